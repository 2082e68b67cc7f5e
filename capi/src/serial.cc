// SPDX-License-Identifier: MIT
// emio_serial_*: a SerialPort opened (or reconfigured) with C settings, held as a plain stream.
#include <utility>

#include "emio/runtime/serial.h"
#include "objects.h"

using emio_capi::to_c;

static_assert(EMIO_PARITY_NONE == static_cast<int>(emio::Parity::none));
static_assert(EMIO_PARITY_EVEN == static_cast<int>(emio::Parity::even));
static_assert(EMIO_PARITY_ODD == static_cast<int>(emio::Parity::odd));

namespace {

emio::SerialSettings from_c(const emio_serial_settings& settings) {
  emio::SerialSettings converted;
  converted.baud_rate = settings.baud_rate;
  converted.data_bits = settings.data_bits;
  converted.parity = static_cast<emio::Parity>(settings.parity);  // an unknown code: configure says EINVAL
  converted.stop_bits = settings.stop_bits;
  converted.flow_control = settings.rtscts != 0 ? emio::FlowControl::rts_cts : emio::FlowControl::none;
  converted.rs485.enabled = settings.rs485 != 0;
  converted.rs485.rts_high_while_sending = settings.rs485_rts_high_while_sending != 0;
  converted.rs485.delay_before_send_ms = settings.rs485_delay_before_send_ms;
  converted.rs485.delay_after_send_ms = settings.rs485_delay_after_send_ms;
  return converted;
}

}  // namespace

extern "C" {

void emio_serial_settings_default(emio_serial_settings* settings) {
  const emio::SerialSettings defaults;
  settings->baud_rate = defaults.baud_rate;
  settings->data_bits = defaults.data_bits;
  settings->parity = EMIO_PARITY_NONE;
  settings->stop_bits = defaults.stop_bits;
  settings->rtscts = 0;
  settings->rs485 = 0;
  settings->rs485_rts_high_while_sending = defaults.rs485.rts_high_while_sending ? 1 : 0;
  settings->rs485_delay_before_send_ms = defaults.rs485.delay_before_send_ms;
  settings->rs485_delay_after_send_ms = defaults.rs485.delay_after_send_ms;
}

int emio_serial_open(emio_runtime* runtime, emio_stream* stream, const char* path, uint32_t baud_rate) {
  emio_serial_settings settings;
  emio_serial_settings_default(&settings);
  settings.baud_rate = baud_rate;
  return emio_serial_open_with(runtime, stream, path, &settings);
}

int emio_serial_open_with(emio_runtime* runtime, emio_stream* stream, const char* path,
                          const emio_serial_settings* settings) {
  emio::Executor& executor = emio_capi::executor_of(runtime);
  emio::Result<emio::SerialPort> opened = emio::SerialPort::open(executor.handle(), path, from_c(*settings));
  if (!opened.ok()) return to_c(opened.error());
  emio_capi::open_stream(stream, executor, std::move(opened.value().source()), false);
  return EMIO_OK;
}

int emio_serial_configure(emio_stream* stream, const emio_serial_settings* settings) {
  if (!emio_capi::is_open(stream)) return EMIO_ESTALE;
  const emio_capi::Stream& object = emio_capi::object_of<emio_capi::Stream>(stream);
  if (object.connecting.has_value()) return -ENOTTY;  // a socket being connected
  return to_c(emio::configure_tty(object.source.fd(), from_c(*settings)));
}

}  // extern "C"
