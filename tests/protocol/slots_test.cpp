#include <catch2/catch.hpp>

#include "protocol/slots.hpp"

using namespace rcsim::protocol;

TEST_CASE("CRC16 is XMODEM", "[slots]") { CHECK(crc16_xmodem("123456789") == 0x31C3); }

TEST_CASE("hash slots and hash tags follow Redis", "[slots]") {
  CHECK(key_hash_slot("foo") == 12182);
  CHECK(key_hash_slot("bar") == 5061);
  CHECK(key_hash_slot("{user1000}.following") == 3443);
  CHECK(key_hash_slot("{user1000}.followers") == 3443);
  CHECK(key_hash_slot("foo{}{bar}") == 8363);     // empty first tag: whole key
  CHECK(key_hash_slot("foo{{bar}}zap") == 4015);  // hashes "{bar"
  CHECK(key_hash_slot("foo{bar}{zap}") == 5061);  // first tag only
  CHECK(key_hash_slot("key9184688") == 10923);
  CHECK(key_hash_slot("06S") == 0);
  CHECK(key_hash_slot("") == 0);
  CHECK(hash_tag("a{b") == "a{b");
}
