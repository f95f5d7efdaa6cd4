#include "rtpmidi/rtp_midi_packet.hpp"
