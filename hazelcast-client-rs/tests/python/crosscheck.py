"""Cross-checks between hazelcast-client-rs and the official Python client.

Usage: crosscheck.py CLUSTER_NAME ADDRESS COMMAND [ARGS...]

Commands:
  check-rust-values MAP     assert the values the Rust test wrote read back unchanged
  write-python-values MAP   write one value of each type for the Rust test to read
  partitions                print the partition id of the Integer keys 0..9999, then
                            the owner UUID of every partition
  try-lock MAP KEY SECONDS  try to lock KEY; print "locked" (and unlock) or "busy"
"""

import sys

import hazelcast
from hazelcast.config import IntType


def connect(cluster, address, **kw):
    return hazelcast.HazelcastClient(
        cluster_name=cluster, cluster_members=[address], **kw
    )


def expect(got, want):
    if type(got) is not type(want) or got != want:
        raise SystemExit(f"expected {want!r} ({type(want).__name__}), got {got!r} ({type(got).__name__})")


def main():
    cluster, address, command, *args = sys.argv[1:]
    if command == "check-rust-values":
        client = connect(cluster, address)
        m = client.get_map(args[0]).blocking()
        expect(m.get("int"), 42)
        expect(m.get("neg-int"), -7)
        expect(m.get("long"), 1 << 40)
        expect(m.get("string"), "héllo ✓")
        expect(m.get("bytes"), bytearray(b"\x00\x01\xff"))
        expect(m.get("bool"), True)
        expect(m.get("double"), 2.5)
        expect(m.get(12345), "int key")
        client.shutdown()
        print("ok")
    elif command == "write-python-values":
        client = connect(cluster, address)
        m = client.get_map(args[0]).blocking()
        m.put("py-int", 42)
        m.put("py-neg-int", -7)
        m.put("py-string", "héllo ✓")
        m.put("py-bytes", bytearray(b"\x00\x01\xff"))
        m.put("py-bool", False)
        m.put("py-double", -0.125)
        m.put(777, "int key")
        client.shutdown()
        long_client = connect(cluster, address, default_int_type=IntType.LONG)
        long_client.get_map(args[0]).blocking().put("py-long", 1 << 40)
        long_client.shutdown()
        print("ok")
    elif command == "partitions":
        client = connect(cluster, address)
        ps = client.partition_service
        print(",".join(str(ps.get_partition_id(i)) for i in range(10000)))
        print(",".join(str(ps.get_partition_owner(p)) for p in range(ps.get_partition_count())))
        client.shutdown()
    elif command == "try-lock":
        client = connect(cluster, address)
        m = client.get_map(args[0]).blocking()
        if m.try_lock(args[1], timeout=float(args[2])):
            m.unlock(args[1])
            print("locked")
        else:
            print("busy")
        client.shutdown()
    else:
        raise SystemExit(f"unknown command {command}")


if __name__ == "__main__":
    main()
