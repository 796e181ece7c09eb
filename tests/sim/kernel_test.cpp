#include <catch2/catch.hpp>

#include "protocol/rng.hpp"
#include "sim/scheduler.hpp"
#include "sim/sha256.hpp"
#include "sim/time.hpp"
#include "sim/trace.hpp"

using namespace rcsim;
using namespace rcsim::sim;

TEST_CASE("sha256 matches the FIPS 180-4 test vectors", "[kernel]") {
  Sha256 empty;
  CHECK(empty.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  Sha256 abc;
  abc.update("abc");
  CHECK(abc.hex() == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  Sha256 split;
  split.update("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq");
  CHECK(split.hex() == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  // A million 'a's in pieces of 1 to 40,000 bytes: updates gathered, passed through and a digest taken
  // midway (which must not disturb the stream).
  Sha256 million;
  size_t fed = 0;
  for (size_t piece = 1; fed < 1'000'000; piece = piece * 7 % 40'001) {
    const size_t take = std::min(piece, 1'000'000 - fed);
    million.update(std::string(take, 'a'));
    fed += take;
    if (fed > 500'000 && fed - take <= 500'000) (void)million.hex();
  }
  CHECK(million.hex() == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_CASE("durations parse and format", "[kernel]") {
  CHECK(parse_duration("1.5s")->us == 1'500'000);
  CHECK(parse_duration("200ms")->us == 200'000);
  CHECK(parse_duration("250us")->us == 250);
  CHECK(parse_duration("2m")->us == 120'000'000);
  CHECK_FALSE(parse_duration("1.5"));
  CHECK_FALSE(parse_duration("-1s"));
  CHECK_FALSE(parse_duration("0.0001ms"));
  CHECK_FALSE(parse_duration("s"));
  CHECK(format_duration(Duration::millis(12500)) == "12.5s");
  CHECK(format_duration(Duration::millis(200)) == "200ms");
  CHECK(format_duration(Duration::micros(250)) == "250us");
  CHECK(format_duration(Duration::seconds(3)) == "3s");
}

TEST_CASE("rng: same seed same stream - ranges stay in bounds", "[kernel]") {
  Rng a(42), b(42), c(43);
  bool differs = false;
  for (int i = 0; i < 100; ++i) {
    const uint64_t x = a.next();
    CHECK(x == b.next());
    differs |= x != c.next();
  }
  CHECK(differs);
  Rng r(7);
  int hits[10] = {};
  for (int i = 0; i < 100000; ++i) {
    const uint64_t v = r.below(10);
    REQUIRE(v < 10);
    ++hits[v];
  }
  for (int h : hits) CHECK((h > 9000 && h < 11000));
  int heads = 0;
  for (int i = 0; i < 100000; ++i) heads += r.chance(1, 4) ? 1 : 0;
  CHECK((heads > 24000 && heads < 26000));
  for (int i = 0; i < 1000; ++i) {
    const int64_t v = r.between(-3, 3);
    REQUIRE((v >= -3 && v <= 3));
  }
  // Named forks are independent of each other and reproducible.
  CHECK(Rng(1).fork("net").next() == Rng(1).fork("net").next());
  CHECK(Rng(1).fork("net").next() != Rng(1).fork("disk").next());
}

TEST_CASE("scheduler orders by time then by scheduling order - and cancels", "[kernel]") {
  Scheduler s;
  std::vector<int> fired;
  s.at(Instant::from_millis(10), [&] { fired.push_back(2); });
  s.at(Instant::from_millis(5), [&] { fired.push_back(1); });
  s.at(Instant::from_millis(10), [&] { fired.push_back(3); });
  const TimerId cancelled = s.at(Instant::from_millis(7), [&] { fired.push_back(99); });
  CHECK(s.cancel(cancelled));
  CHECK_FALSE(s.cancel(cancelled));
  s.run_until(Instant::from_millis(20));
  CHECK(fired == std::vector<int>{1, 2, 3});
  CHECK(s.now() == Instant::from_millis(20));
  CHECK(s.events_fired() == 3);

  int count = 0;
  for (int i = 1; i <= 10; ++i) s.after(Duration::millis(i), [&] { ++count; });
  CHECK(s.run_until([&] { return count == 4; }, Instant::from_millis(1000)));
  CHECK(s.now() == Instant::from_millis(24));
}

TEST_CASE("trace lines are canonical and hashed", "[kernel]") {
  Trace t1, t2;
  TraceRecord r1(Instant::from_millis(1), "pfail");
  r1.add("node", "a").add("about", "b\"c").add("epoch", int64_t{7});
  t1.record(r1);
  CHECK(r1.line() == R"({"t_us":1000,"ev":"pfail","node":"a","about":"b\"c","epoch":7})");
  TraceRecord r2(Instant::from_millis(1), "pfail");
  r2.add("node", "a").add("about", "b\"c").add("epoch", int64_t{7});
  t2.record(r2);
  CHECK(t1.sha256() == t2.sha256());
  TraceRecord r3(Instant::from_millis(2), "x");
  t2.record(r3);
  CHECK(t1.sha256() != t2.sha256());
}
