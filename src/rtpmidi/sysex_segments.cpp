#include "rtpmidi/sysex_segments.hpp"
