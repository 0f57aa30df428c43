#include "auth/login_cache.h"

#include <doctest/doctest.h>

using namespace fcpmail::auth;
using namespace std::chrono_literals;

namespace {
const LoginCache::Clock::time_point t0{};
}

TEST_CASE("login cache: finds exactly the (user, password) remembered, until the TTL is up") {
  LoginCache cache(300s, 16);
  cache.remember("me@x", "right", "me@x", cache.generation(), t0);
  CHECK(cache.find("me@x", "right", t0 + 299s) == std::optional<std::string>("me@x"));
  CHECK_FALSE(cache.find("me@x", "wrong", t0));
  CHECK_FALSE(cache.find("me@x", "right ", t0));
  CHECK_FALSE(cache.find("ME@x", "right", t0));  // the name as typed: identity ids are case-sensitive
  CHECK_FALSE(cache.find("me@xr", "ight", t0));  // no (user, password) split collides with another
  // A hit does not extend the entry: a password changed behind the cache's back stops within the TTL.
  CHECK_FALSE(cache.find("me@x", "right", t0 + 300s));
  CHECK(cache.size() == 0);
}

TEST_CASE("login cache: two caches do not share keys (the HMAC key is drawn per cache)") {
  LoginCache a, b;
  a.remember("me@x", "right", "me@x", a.generation(), t0);
  CHECK(a.find("me@x", "right", t0));
  CHECK_FALSE(b.find("me@x", "right", t0));
}

TEST_CASE("login cache: forget drops every entry of a name, in any case, or of the account") {
  LoginCache cache;
  cache.remember("me@x", "right", "me@x", cache.generation(), t0);
  cache.remember("Me@X", "right", "me@x", cache.generation(), t0);
  cache.remember("Identity~Id", "right", "me@x", cache.generation(), t0);
  cache.remember("you@x", "yours", "you@x", cache.generation(), t0);
  CHECK(cache.size() == 4);
  cache.forget("ME@x");  // the account's address: its logins under any name go
  CHECK(cache.size() == 1);
  CHECK(cache.find("you@x", "yours", t0));
  cache.forget("you@x");
  CHECK(cache.size() == 0);
}

TEST_CASE("login cache: a check that began before forget() does not put the old password back") {
  LoginCache cache;
  const auto before = cache.generation();
  cache.forget("me@x");  // the password changed while the check ran
  cache.remember("me@x", "old", "me@x", before, t0);
  CHECK_FALSE(cache.find("me@x", "old", t0));
  cache.remember("me@x", "new", "me@x", cache.generation(), t0);
  CHECK(cache.find("me@x", "new", t0));
}

TEST_CASE("login cache: bounded; when full the oldest entry makes room; 0 entries keeps nothing") {
  LoginCache cache(300s, 3);
  for (int i = 0; i < 5; ++i)
    cache.remember("u" + std::to_string(i) + "@x", "pw", "u" + std::to_string(i) + "@x", cache.generation(), t0 + std::chrono::seconds(i));
  CHECK(cache.size() == 3);
  CHECK_FALSE(cache.find("u0@x", "pw", t0 + 5s));
  CHECK_FALSE(cache.find("u1@x", "pw", t0 + 5s));
  CHECK(cache.find("u4@x", "pw", t0 + 5s));
  LoginCache none(300s, 0);
  none.remember("me@x", "right", "me@x", none.generation(), t0);
  CHECK(none.size() == 0);
  CHECK_FALSE(none.find("me@x", "right", t0));
}
