#!/usr/bin/env python3
"""Runs a command as on a host booted with IPv6 off (ipv6.disable=1): socket(AF_INET6, ...) fails
with EAFNOSUPPORT, the error nginx reports there ("Address family not supported by protocol").

A network namespace with disable_ipv6=1 cannot show this: binding [::] still works there. So a
seccomp filter does it, installed through prctl with the standard library only; it survives the
exec and applies to every process the command starts.

Usage: withoutIpv6.py COMMAND [ARG...]
"""
import ctypes
import os
import platform
import struct
import sys

# linux/audit.h, asm/unistd.h
ARCHES = {
    "x86_64": (0xC000003E, 41),
    "aarch64": (0xC00000B7, 198),
}
AF_INET6 = 10
EAFNOSUPPORT = 97
PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
SECCOMP_RET_ALLOW = 0x7FFF0000
SECCOMP_RET_ERRNO = 0x00050000
SECCOMP_RET_KILL_PROCESS = 0x80000000
# struct seccomp_data: int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6]
OFFSET_NR, OFFSET_ARCH, OFFSET_ARG0 = 0, 4, 16
BPF_LD_W_ABS, BPF_JEQ_K, BPF_RET_K = 0x20, 0x15, 0x06


def instruction(code, jump_true, jump_false, k):
    return struct.pack("HBBI", code, jump_true, jump_false, k)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    machine = platform.machine()
    if machine not in ARCHES:
        sys.exit(f"withoutIpv6.py: no seccomp numbers for {machine}")
    audit_arch, socket_nr = ARCHES[machine]
    program = b"".join([
        instruction(BPF_LD_W_ABS, 0, 0, OFFSET_ARCH),
        instruction(BPF_JEQ_K, 1, 0, audit_arch),
        instruction(BPF_RET_K, 0, 0, SECCOMP_RET_KILL_PROCESS),
        instruction(BPF_LD_W_ABS, 0, 0, OFFSET_NR),
        instruction(BPF_JEQ_K, 0, 3, socket_nr),
        instruction(BPF_LD_W_ABS, 0, 0, OFFSET_ARG0),
        instruction(BPF_JEQ_K, 0, 1, AF_INET6),
        instruction(BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | EAFNOSUPPORT),
        instruction(BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW),
    ])
    buffer = ctypes.create_string_buffer(program)

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    fprog = SockFprog(len(program) // 8, ctypes.addressof(buffer))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p, ctypes.c_ulong, ctypes.c_ulong]
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, None, 0, 0) != 0 or libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        sys.exit(f"withoutIpv6.py: prctl failed: {os.strerror(ctypes.get_errno())}")
    os.execvp(sys.argv[1], sys.argv[1:])


if __name__ == "__main__":
    main()
