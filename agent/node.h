// SPDX-License-Identifier: Apache-2.0
// Moved to agent/kernel/node.h. This forwarder keeps the files another change owns (the CLI, the
// report, bench/, test_balloon.c) compiling until they include the new path; then remove it.
#pragma once

#include "agent/kernel/node.h"
