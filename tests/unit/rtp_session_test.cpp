#include "rtpmidi/session.hpp"

#include <catch2/catch.hpp>
