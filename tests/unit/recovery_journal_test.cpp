#include "rtpmidi/recovery_journal.hpp"

#include <catch2/catch.hpp>
