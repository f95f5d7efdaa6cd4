#include "rtpmidi/sysex_segments.hpp"

#include <catch2/catch.hpp>
