# SPDX-License-Identifier: Apache-2.0
#
# memagent_vm_test(): add a real-kernel scenario as a ctest.
#
#   memagent_vm_test(NAME <scenario.sh>
#                    [BINS <target|/abs/path>...]     required; a missing target is a generate-time error,
#                                                     a missing /abs/path (a host tool such as earlyoom)
#                                                     a skip at run time (vmrun --host-bin)
#                    [OPTIONAL_BINS <target>...]      added only if the target exists (memagent, memagentd)
#                    [FILES <src:/dest>...]           extra files, copied as is
#                    [MODULES <module>...]            kernel modules (+ dependencies) for modprobe in the guest
#                    [MEM <MiB>] [SMP <n>] [NUMA <n>] [SWAP <MiB>]
#                    [DISK_EXT4 <MiB>]                an empty ext4 virtio disk (vmrun --disk-ext4)
#                    [PEER] [PEER_MEM <MiB>] [RDMA]   two guests on one link (vmrun --peer, each
#                                                     with ROLE=a|b), guest b's memory; Soft-RoCE
#                    [TIMEOUT <s>]                    guest hard limit (default 120); ctest gets +30 s
#                    [ENV <KEY=VALUE>...]             exported to the scenario
#                    [LABELS <label>...]              besides "vm"
#                    [TEST_NAME <name>]               vm.<name> instead of the scenario's name
#                                                     (one scenario run with different ENV)
#                    [SKIP_REASON <why>])             the build lacks what it needs (e.g. BPF): still
#                                                     registered, so that it shows as skipped (and
#                                                     fails under CI=true) instead of vanishing
#
# NAME is looked up in the calling directory first, then in tests/vm/scenarios/.
# The test is named vm.<NAME without .sh>, runs tests/vm/vmrun with
# --work ${CMAKE_BINARY_DIR}/vm (initramfs cache), is labelled "vm", counts
# exit 77 (no qemu/kernel on this machine) as skipped, and reserves 2
# processors (each guest runs 2 vCPU threads). vmrun prints a skip loudly and,
# under CI=true in the environment, turns it into a failure (exit 1).

set(MEMAGENT_VM_DIR "${CMAKE_CURRENT_LIST_DIR}" CACHE INTERNAL "tests/vm source directory")

function(memagent_vm_test)
  cmake_parse_arguments(PARSE_ARGV 0 VM "PEER;RDMA" "NAME;TEST_NAME;MEM;SMP;NUMA;SWAP;DISK_EXT4;TIMEOUT;SKIP_REASON;PEER_MEM"
                        "BINS;OPTIONAL_BINS;FILES;MODULES;ENV;LABELS")
  if(VM_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "memagent_vm_test: unknown arguments: ${VM_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT VM_NAME)
    message(FATAL_ERROR "memagent_vm_test: NAME <scenario.sh> is required")
  endif()
  if(IS_ABSOLUTE "${VM_NAME}")
    set(scenario "${VM_NAME}")
  elseif(EXISTS "${CMAKE_CURRENT_SOURCE_DIR}/${VM_NAME}")
    set(scenario "${CMAKE_CURRENT_SOURCE_DIR}/${VM_NAME}")
  else()
    set(scenario "${MEMAGENT_VM_DIR}/scenarios/${VM_NAME}")
  endif()
  if(NOT EXISTS "${scenario}")
    message(FATAL_ERROR "memagent_vm_test: scenario ${VM_NAME} not found (looked in ${CMAKE_CURRENT_SOURCE_DIR} and ${MEMAGENT_VM_DIR}/scenarios)")
  endif()
  get_filename_component(base "${scenario}" NAME_WE)
  if(VM_TEST_NAME)
    set(base "${VM_TEST_NAME}")
  endif()

  if(NOT VM_TIMEOUT)
    set(VM_TIMEOUT 120)
  endif()
  set(args --work "${CMAKE_BINARY_DIR}/vm" --timeout ${VM_TIMEOUT})
  if(VM_SKIP_REASON)
    list(APPEND args --skip "${VM_SKIP_REASON}")
  endif()
  foreach(b IN LISTS VM_BINS)
    if(IS_ABSOLUTE "${b}")
      if(NOT EXISTS "${b}")
        message(WARNING "memagent: vm.${base} will be SKIPPED (a failure under CI=true): ${b} not installed")
      endif()
      list(APPEND args --host-bin "${b}")
    else()
      list(APPEND args --bin "$<TARGET_FILE:${b}>")
    endif()
  endforeach()
  foreach(b IN LISTS VM_OPTIONAL_BINS)
    # Evaluated at generate time, so the order of add_subdirectory() does not matter;
    # vmrun ignores an empty --bin=.
    list(APPEND args "--bin=$<$<TARGET_EXISTS:${b}>:$<TARGET_FILE:${b}>>")
  endforeach()
  foreach(f IN LISTS VM_FILES)
    list(APPEND args --file "${f}")
  endforeach()
  if(VM_MODULES)
    list(JOIN VM_MODULES " " mods)
    list(APPEND args --modules "${mods}")
  endif()
  foreach(opt MEM SMP NUMA)
    if(VM_${opt})
      string(TOLOWER "${opt}" o)
      list(APPEND args --${o} ${VM_${opt}})
    endif()
  endforeach()
  if(VM_SWAP)
    list(APPEND args --swap-mib ${VM_SWAP})
  endif()
  if(VM_DISK_EXT4)
    list(APPEND args --disk-ext4 ${VM_DISK_EXT4})
  endif()
  if(VM_PEER)
    list(APPEND args --peer)
  endif()
  if(VM_PEER_MEM)
    list(APPEND args --peer-mem ${VM_PEER_MEM})
  endif()
  if(VM_RDMA)
    list(APPEND args --rdma)
  endif()
  foreach(e IN LISTS VM_ENV)
    list(APPEND args --env "${e}")
  endforeach()

  add_test(NAME vm.${base} COMMAND "${MEMAGENT_VM_DIR}/vmrun" ${args} "${scenario}")
  math(EXPR ctest_timeout "${VM_TIMEOUT} + 30")
  set_tests_properties(vm.${base} PROPERTIES
    LABELS "vm;${VM_LABELS}"
    SKIP_RETURN_CODE 77
    TIMEOUT ${ctest_timeout}
    PROCESSORS 2)
endfunction()
