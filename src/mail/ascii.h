// The ASCII case helpers for fcpmail's areas: fcp's one definition (fcp/ascii.h, the lowest
// library) under fcpmail's name. mail/ sees that single header of fcp's, not the rest of fcp.
#pragma once

#include "fcp/ascii.h"

namespace fcpmail {
namespace ascii = fcp::ascii;
}  // namespace fcpmail
