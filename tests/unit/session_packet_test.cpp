#include "rtpmidi/session_packet.hpp"

#include <catch2/catch.hpp>
