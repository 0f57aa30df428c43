// Cryptographically secure random bytes from the operating system's generator (Crypto++
// AutoSeededRandomPool, one per thread, so it is safe to call from any thread).
#pragma once
#include <cstddef>
#include <string>

namespace fcpmail::crypto {

// n random bytes.
std::string random_bytes(std::size_t n);

}  // namespace fcpmail::crypto
