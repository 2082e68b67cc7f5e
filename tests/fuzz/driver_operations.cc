// SPDX-License-Identifier: MIT
#include "fuzz/driver_operations.h"

#include <cerrno>
#include <cstring>

#include "fuzz/fuzz_check.h"

namespace emio_fuzz {
namespace {

constexpr uint64_t max_timeout_ns = 2'000'000;
constexpr int drain_turns = 2000;  // 1 ms each: far beyond the longest timeout and any cancel

bool is_recv(int index) { return index == op_recv_first || index == op_recv_second; }

// A transfer's failures that are not the driver's fault: cancelled, or (epoll) the source's registration,
// made at its first EAGAIN, found the table full: ENOBUFS (readiness_operations.cc).
bool failed_as_allowed(const Harness& harness, int32_t result) {
  const bool readiness = std::strcmp(harness.driver->backend_name(), "uring") != 0;
  return result == -ECANCELED || (readiness && result == -ENOBUFS);
}

void check_recv(Harness& harness, const OpRecord& record) {
  const int32_t result = record.op.result;
  // The peer stays open, so 0 (end of stream) is as wrong as an error not allowed.
  FUZZ_CHECK(result > 0 || failed_as_allowed(harness, result), "recv completed with neither bytes nor a fair error");
  for (int32_t i = 0; i < result; ++i) {
    FUZZ_CHECK(record.buffer[i] == sequence_byte(harness.received_by_local++), "recv lost, doubled or reordered bytes");
  }
}

void check_result(Harness& harness, const OpRecord& record) {
  const int32_t result = record.op.result;
  switch (record.index) {
    case op_send:
      FUZZ_CHECK(result > 0 || failed_as_allowed(harness, result),
                 "send completed with neither bytes nor a fair error");
      if (result > 0) harness.sent_by_local += static_cast<uint64_t>(result);
      return;
    case op_timeout:
      FUZZ_CHECK(result == 0 || result == -ECANCELED, "a timeout completed with an error");
      return;
    case op_cancel:
      FUZZ_CHECK(result == 0 || result == -ENOENT || result == -EALREADY, "a cancel completed with an odd result");
      return;
    default:
      return check_recv(harness, record);
  }
}

void on_complete(void* context) {
  auto* record = static_cast<OpRecord*>(context);
  record->completed += 1;
  FUZZ_CHECK(record->completed <= record->submitted, "an operation completed twice");
  FUZZ_CHECK(!record->op.in_flight(), "an operation completed still in flight");
  check_result(*record->harness, *record);
}

uint32_t in_flight_count(const Harness& harness) {
  uint32_t count = 0;
  for (const OpRecord& record : harness.records) count += record.in_flight() ? 1 : 0;
  return count;
}

// What Driver::submit must answer, from the model (operation.h's rules).
emio::Error expected_submit(const Harness& harness, int index) {
  if (harness.records[index].in_flight()) return emio::Error::from_errno(EALREADY);
  if (in_flight_count(harness) >= operation_capacity) return emio::Error::from_errno(EBUSY);
  const int other_recv = index == op_recv_first ? op_recv_second : op_recv_first;
  if (is_recv(index) && harness.records[other_recv].in_flight()) return emio::Error::from_errno(EBUSY);
  return emio::Error{};
}

void prepare(Harness& harness, OpRecord& record, FuzzedDataProvider& input) {
  record.harness = &harness;
  const emio::Waker waker{on_complete, &record};
  const size_t length = input.ConsumeIntegralInRange<size_t>(1, max_transfer_bytes);
  switch (record.index) {
    case op_send:
      for (size_t i = 0; i < length; ++i) record.buffer[i] = sequence_byte(harness.sent_by_local + i);
      return emio::prepare_send(record.op, harness.source, std::span(record.buffer, length), waker);
    case op_timeout:
      return emio::prepare_timeout(record.op, input.ConsumeIntegralInRange<uint64_t>(0, max_timeout_ns), waker);
    case op_cancel: {
      OpRecord& target = harness.records[input.ConsumeIntegralInRange<int>(0, op_cancel - 1)];
      return emio::prepare_cancel(record.op, target.op, waker);
    }
    default:
      return emio::prepare_recv(record.op, harness.source, std::span(record.buffer, length), waker);
  }
}

void submit(Harness& harness, int index, FuzzedDataProvider& input) {
  OpRecord& record = harness.records[index];
  record.index = index;
  const emio::Error expected = expected_submit(harness, index);
  // A record in flight must stay untouched (operation.h): it is submitted again as it is.
  if (!record.in_flight()) prepare(harness, record, input);
  const emio::Error submitted = harness.driver->submit(record.op);
  FUZZ_CHECK(submitted == expected, "submit answered other than operation.h says");
  if (submitted.ok()) record.submitted += 1;
}

}  // namespace

void submit_operation(Harness& harness, FuzzedDataProvider& input) {
  submit(harness, input.ConsumeIntegralInRange<int>(0, op_count - 1), input);
}

void cancel_operations(Harness& harness) {
  for (int turn = 0; turn < drain_turns && in_flight_count(harness) > 0; ++turn) {
    OpRecord& canceller = harness.records[op_cancel];
    for (int index = 0; index < op_cancel && !canceller.in_flight(); ++index) {
      if (!harness.records[index].in_flight()) continue;
      canceller.index = op_cancel;
      canceller.harness = &harness;
      emio::prepare_cancel(canceller.op, harness.records[index].op, emio::Waker{on_complete, &canceller});
      FUZZ_CHECK(harness.driver->submit(canceller.op).ok(), "a cancel was refused");
      canceller.submitted += 1;
    }
    FUZZ_CHECK(harness.driver->turn(1).ok(), "turn failed");
  }
  FUZZ_CHECK(in_flight_count(harness) == 0, "an operation never completed");
}

}  // namespace emio_fuzz
