#include "crypto/random.h"

#include <cryptopp/osrng.h>

namespace fcpmail::crypto {

std::string random_bytes(std::size_t n) {
  // AutoSeededRandomPool is not safe to share between threads; one per thread is.
  thread_local CryptoPP::AutoSeededRandomPool pool;
  std::string out(n, '\0');
  if (n != 0) pool.GenerateBlock(reinterpret_cast<CryptoPP::byte*>(out.data()), n);
  return out;
}

}  // namespace fcpmail::crypto
