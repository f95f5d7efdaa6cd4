#pragma once
// One complete message of every MIDI 1.0 kind, for the tests that must pass them all.

#include <cstdint>
#include <vector>

namespace midimesh::test {

inline const std::vector<std::vector<std::uint8_t>> every_midi_kind = {
    {0x90, 0x3C, 0x64},                   // note on
    {0x80, 0x3C, 0x40},                   // note off
    {0xAF, 0x7F, 0x7F},                   // poly pressure
    {0xB0, 0x07, 0x00},                   // control change
    {0xC5, 0x05},                         // program change
    {0xD0, 0x55},                         // channel pressure
    {0xE0, 0x00, 0x40},                   // pitch bend
    {0xF1, 0x01},                         // MTC quarter frame
    {0xF2, 0x34, 0x12},                   // song position
    {0xF3, 0x05},                         // song select
    {0xF6},                               // tune request
    {0xF8},                               // clock
    {0xFA},                               // start
    {0xFB},                               // continue
    {0xFC},                               // stop
    {0xFE},                               // active sensing
    {0xFF},                               // reset
    {0xF0, 0xF7},                         // empty SysEx
    {0xF0, 0x7E, 0x7F, 0x09, 0x01, 0xF7}, // SysEx: GM system on
};

} // namespace midimesh::test
