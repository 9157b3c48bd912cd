// SPDX-License-Identifier: Apache-2.0
// Moved to agent/daemon/daemon-config.h. This forwarder keeps the files another change owns
// (tests/unit/config/test_node_name.c on main) compiling until they include the new path; then
// remove it.
#pragma once

#include "agent/daemon/daemon-config.h"
