#pragma once

// Validators of the `metronome` command line: numbers, counts and output
// files are refused with a message at parse time, before any work is done.

#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>

namespace metronome::launcher {

/// A decimal whole number in [lo, hi]. CLI11 alone reads "-1" into an
/// unsigned option as its largest value, "010" as octal and "0x10" as hex;
/// this accepts decimal digits only, without a leading zero.
CLI::Validator count_in(std::uint64_t lo, std::uint64_t hi);

/// Any decimal whole number of an unsigned 64-bit option (a seed).
CLI::Validator any_count();

/// A finite number in [lo, hi]; CLI::Range lets NaN through, since every
/// comparison with NaN is false, and CLI::PositiveNumber lets inf through.
CLI::Validator number_in(double lo, double hi);

/// Why a command cannot create or replace a regular file at `path`, or ""
/// when it can: the path is empty, a directory or another non-regular file
/// (a FIFO would block the writer), or its directory is missing or not
/// writable.
std::string output_file_problem(const std::string& path);

/// The validator of output_file_problem, for options naming a file to write.
CLI::Validator output_file();

} // namespace metronome::launcher
