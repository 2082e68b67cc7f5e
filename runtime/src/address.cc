// SPDX-License-Identifier: MIT
#include "emio/runtime/address.h"

#if defined(_WIN32)
#include <afunix.h>  // sockaddr_un: Windows 10 names Unix-domain addresses as POSIX does
#else
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>
#endif

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace emio {
namespace {

constexpr Error invalid = Error::from_errno(EINVAL);

// Digits only, 0 to 65535: "7000", never "+7000", " 7000" or "70000".
bool parse_port(std::string_view text, uint16_t& port) {
  if (text.empty() || text.size() > 5) return false;
  uint32_t value = 0;
  for (const char digit : text) {
    if (digit < '0' || digit > '9') return false;
    value = value * 10 + static_cast<uint32_t>(digit - '0');
  }
  if (value > 65535) return false;
  port = static_cast<uint16_t>(value);
  return true;
}

// inet_pton needs a NUL-terminated string; host parts are short, so copy into a small buffer.
bool parse_host(int family, std::string_view host, void* destination) {
  char text[INET6_ADDRSTRLEN] = {};
  if (host.empty() || host.size() >= sizeof text) return false;
  std::memcpy(text, host.data(), host.size());
  return ::inet_pton(family, text, destination) == 1;
}

// A NUL inside the text would end it early where C reads it: inet_pton took "127.0.0.1\0junk:80" as
// 127.0.0.1:80, and "@a\0b" named an abstract socket that formats back as "@a" (found by the
// socket_address fuzz target). Neither is an address anyone means: refused.
bool holds_nul(std::string_view text) { return text.find('\0') != std::string_view::npos; }

bool looks_like_path(std::string_view text) {
  return !text.empty() && (text.front() == '/' || text.front() == '.' || text.front() == '@');
}

}  // namespace

Result<SocketAddress> SocketAddress::parse(std::string_view text) {
  constexpr std::string_view unix_prefix = "unix:";
  if (holds_nul(text)) return invalid;
  if (text.substr(0, unix_prefix.size()) == unix_prefix) return unix_path(text.substr(unix_prefix.size()));
  if (looks_like_path(text)) return unix_path(text);
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return invalid;
  uint16_t port = 0;
  if (!parse_port(text.substr(colon + 1), port)) return invalid;
  std::string_view host = text.substr(0, colon);
  SocketAddress address;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    auto* ipv6 = reinterpret_cast<sockaddr_in6*>(&address.storage_);
    if (!parse_host(AF_INET6, host.substr(1, host.size() - 2), &ipv6->sin6_addr)) return invalid;
    ipv6->sin6_family = AF_INET6;
    ipv6->sin6_port = htons(port);
    address.length_ = sizeof(sockaddr_in6);
    return address;
  }
  auto* ipv4 = reinterpret_cast<sockaddr_in*>(&address.storage_);
  if (!parse_host(AF_INET, host, &ipv4->sin_addr)) return invalid;
  ipv4->sin_family = AF_INET;
  ipv4->sin_port = htons(port);
  address.length_ = sizeof(sockaddr_in);
  return address;
}

Result<SocketAddress> SocketAddress::unix_path(std::string_view path) {
  if (path.empty() || path == "@" || holds_nul(path)) return invalid;
  SocketAddress address;
  auto* local = reinterpret_cast<sockaddr_un*>(&address.storage_);
  const bool abstract = path.front() == '@';
  // A filesystem path needs room for its NUL; an abstract name is counted by length instead.
  const size_t room = sizeof local->sun_path - (abstract ? 0 : 1);
  if (path.size() > room) return Error::from_errno(ENAMETOOLONG);
  local->sun_family = AF_UNIX;
  std::memcpy(local->sun_path, path.data(), path.size());
  if (abstract) local->sun_path[0] = '\0';
  address.length_ = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + (abstract ? 0 : 1));
  return address;
}

SocketAddress SocketAddress::from_native(const sockaddr* native, socklen_t length) {
  SocketAddress address;
  if (static_cast<size_t>(length) > sizeof address.storage_) length = sizeof address.storage_;
  std::memcpy(&address.storage_, native, length);
  address.length_ = length;
  return address;
}

uint16_t SocketAddress::port() const {
  if (family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&storage_)->sin_port);
  if (family() == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_port);
  return 0;
}

size_t SocketAddress::format(std::span<char> text) const {
  if (text.empty()) return 0;
  char host[INET6_ADDRSTRLEN] = {};
  int written = 0;
  if (family() == AF_INET) {
    ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr, host, sizeof host);
    written = std::snprintf(text.data(), text.size(), "%s:%u", host, port());
  } else if (family() == AF_INET6) {
    ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_addr, host, sizeof host);
    written = std::snprintf(text.data(), text.size(), "[%s]:%u", host, port());
  } else if (family() == AF_UNIX) {
    const auto* local = reinterpret_cast<const sockaddr_un*>(&storage_);
    const size_t offset = offsetof(sockaddr_un, sun_path);
    const bool unnamed = static_cast<size_t>(length_) <= offset;  // what getsockname/accept report for it: no sun_path
    const bool abstract = !unnamed && local->sun_path[0] == '\0';
    // An abstract name has no NUL of its own: its length is what the kernel counted.
    const int name_length = abstract ? static_cast<int>(length_ - offset - 1) : -1;
    // A path parse() would not take as one ("sock", from "unix:sock") keeps its prefix, so that the text
    // parses back to this address (the socket_address fuzz target found "unix::x" written as ":x").
    const char* prefix = abstract || looks_like_path(local->sun_path) ? "" : "unix:";
    written = unnamed    ? std::snprintf(text.data(), text.size(), "(unnamed)")
              : abstract ? std::snprintf(text.data(), text.size(), "@%.*s", name_length, local->sun_path + 1)
                         : std::snprintf(text.data(), text.size(), "%s%s", prefix, local->sun_path);
  } else {
    text[0] = '\0';
  }
  if (written < 0) return 0;
  return static_cast<size_t>(written) < text.size() ? static_cast<size_t>(written) : text.size() - 1;
}

bool operator==(const SocketAddress& first, const SocketAddress& second) {
  return first.length_ == second.length_ && std::memcmp(&first.storage_, &second.storage_, first.length_) == 0;
}

}  // namespace emio
