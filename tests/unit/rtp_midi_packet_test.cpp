#include "rtpmidi/rtp_midi_packet.hpp"

#include <catch2/catch.hpp>
