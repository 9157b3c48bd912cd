# SPDX-License-Identifier: Apache-2.0
# Real-kernel scenarios of the BPF memory signals (bpf/, agent/cli/trace.c).
# Included from tests/vm/CMakeLists.txt after memagent_vm_test() is defined. Skipped when the
# BPF part is built without BPF (MEMAGENT_HAVE_BPF=0: nothing to test in the guest).
if(NOT TARGET memagent_bpf)
  return()
endif()
get_target_property(_bpf_defs memagent_bpf INTERFACE_COMPILE_DEFINITIONS)
if(NOT "MEMAGENT_HAVE_BPF=1" IN_LIST _bpf_defs)
  message(STATUS "memagent: BPF guest scenarios not added (built without BPF)")
  return()
endif()

# A hog under memory.high in one pod: reclaim-stall records for that pod's container and no
# other; BPF memcg reclaims == memory.events high+max, nr_reclaimed ~ memory.stat pgsteal.
# Swap so that anonymous pages are reclaimable (pgsteal > 0).
memagent_vm_test(NAME bpf-reclaim-stall.sh
  BINS memagent memhog
  MEM 1024 NUMA 2 SWAP 256
  TIMEOUT 120)

# A hog past memory.max: one OOM-victim event naming the pod, container, pid and comm;
# victims per cgroup == memory.events oom_kill.
memagent_vm_test(NAME bpf-oom-victim.sh
  BINS memagent memhog
  MEM 1024 NUMA 2
  TIMEOUT 120)
