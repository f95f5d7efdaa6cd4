#include "rtpmidi/session.hpp"
