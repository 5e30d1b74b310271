// EXPECT_SUPRA_ERROR(statement, "substring"): the statement must throw supra::Error whose
// message contains the substring (any other outcome, a crash included, fails the test).
#pragma once
#include <gtest/gtest.h>

#include <string>

#include "supra/error.h"

#define EXPECT_SUPRA_ERROR(statement, substring)                                          \
  do {                                                                                    \
    try {                                                                                 \
      statement;                                                                          \
      ADD_FAILURE() << "expected supra::Error containing \"" << (substring) << "\" from " \
                    << #statement;                                                        \
    } catch (const supra::Error& e) {                                                     \
      EXPECT_NE(std::string(e.what()).find(substring), std::string::npos)                 \
          << "message: " << e.what();                                                     \
    }                                                                                     \
  } while (0)
