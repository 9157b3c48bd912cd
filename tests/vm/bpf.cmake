# SPDX-License-Identifier: Apache-2.0
# Real-kernel scenarios of the BPF memory signals (bpf/, agent/cli/trace.c).
# Included from tests/vm/CMakeLists.txt after memagent_vm_test() is defined. Built without BPF
# (MEMAGENT_HAVE_BPF=0) there is nothing to test in the guest, but the scenarios are registered
# all the same and skip, saying why: a missing test must show (and fail under CI=true).
set(_bpf_skip "")
if(NOT TARGET memagent_bpf)
  set(_bpf_skip "built without the BPF part (no memagent_bpf target)")
else()
  get_target_property(_bpf_defs memagent_bpf INTERFACE_COMPILE_DEFINITIONS)
  if(NOT "MEMAGENT_HAVE_BPF=1" IN_LIST _bpf_defs)
    set(_bpf_skip "built without BPF (MEMAGENT_HAVE_BPF=0: clang, bpftool, libbpf or kernel BTF missing at configure time, see the configure log)")
  endif()
endif()
if(_bpf_skip)
  message(WARNING "memagent: BPF guest scenarios will be SKIPPED (a failure under CI=true): ${_bpf_skip}")
endif()

# A hog under memory.high in one pod: reclaim-stall records for that pod's container and no
# other; BPF memcg reclaims == memory.events high+max, nr_reclaimed ~ memory.stat pgsteal.
# Swap so that anonymous pages are reclaimable (pgsteal > 0).
memagent_vm_test(NAME bpf-reclaim-stall.sh
  BINS memagent memhog
  MEM 1024 NUMA 2 SWAP 256
  TIMEOUT 120
  SKIP_REASON "${_bpf_skip}")

# A hog past memory.max: one OOM-victim event naming the pod, container, pid and comm;
# victims per cgroup == memory.events oom_kill.
memagent_vm_test(NAME bpf-oom-victim.sh
  BINS memagent memhog
  MEM 1024 NUMA 2
  TIMEOUT 120
  SKIP_REASON "${_bpf_skip}")
