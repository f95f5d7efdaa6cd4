#include "rtpmidi/session_packet.hpp"
