// SPDX-License-Identifier: MIT
// The names and one-line texts of the Win32 codes that Error keeps as they are (those with no errno
// meaning, see Error::from_windows), and texts of the errno values Windows' own strerror lacks. Inside
// port/ only.
#pragma once

namespace emio {

const char* windows_code_name(unsigned long code);
const char* windows_code_description(unsigned long code);
// The text of an errno value that Windows' C library leaves "Unknown error", or nullptr.
const char* windows_errno_description(int errno_value);

}  // namespace emio
