#include "rtpmidi/recovery_journal.hpp"
