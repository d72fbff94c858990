// A Hazelcast member that also reports what Management Center shows about it.
//
// Started by hazelcast-members (LocalCluster) instead of HazelcastMemberStarter:
//
//   java -Dhazelcast.config=member.xml -cp hazelcast.jar:<classes> HzlabMember <port-file>
//
// It starts a member with the XML config named by `hazelcast.config`, listens on a free
// TCP port (of loopback, or of the address in `hzlab.stats.host`) and writes that port number to <port-file> (written to a temporary name
// and renamed, so a reader never sees half a number). Each connection sends one request line
// and gets one JSON line back:
//
//   stats [MAP[,MAP...]]   this member's view: identity, member list, safety, the replica
//                          table (every partition's replicas, owner first, as member uuids)
//                          and, for every map (all known maps plus the ones named), the
//                          entries this member owns and holds as backups (LocalMapStats).
//
// The JVM's shutdown hook (Hazelcast's own, policy from `hazelcast.shutdownhook.policy`)
// handles SIGTERM; SIGKILL is an abrupt crash, as intended.

import com.hazelcast.cluster.Member;
import com.hazelcast.core.DistributedObject;
import com.hazelcast.core.Hazelcast;
import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.instance.impl.HazelcastInstanceProxy;
import com.hazelcast.instance.impl.Node;
import com.hazelcast.internal.partition.InternalPartition;
import com.hazelcast.internal.partition.InternalPartitionService;
import com.hazelcast.internal.partition.PartitionReplica;
import com.hazelcast.map.LocalMapStats;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

public final class HzlabMember {
    private static final String MAP_SERVICE = "hz:impl:mapService";

    public static void main(String[] args) throws Exception {
        if (args.length != 1) {
            System.err.println("usage: HzlabMember <port-file>");
            System.exit(2);
        }
        if (Boolean.getBoolean("hzlab.exitWithParent")) {
            // Standard input is a pipe from the process that started this member: end of
            // file means that process is gone (even killed with SIGKILL), and so is this member.
            Thread watch = new Thread(() -> {
                try {
                    while (System.in.read() != -1) {
                    }
                } catch (java.io.IOException e) {
                    // Gone too.
                }
                Runtime.getRuntime().halt(137);
            }, "hzlab-parent-watch");
            watch.setDaemon(true);
            watch.start();
        }
        HazelcastInstance hz;
        try {
            hz = Hazelcast.newHazelcastInstance();
        } catch (Throwable e) {
            // A member that cannot start (e.g. an invalid config) exits, rather than living
            // on in the threads it started.
            e.printStackTrace();
            System.exit(1);
            return;
        }
        ServerSocket server = new ServerSocket();
        // On loopback, unless the member runs on a host of its own (a network namespace):
        // then on its address, which the host's namespace reaches.
        String statsHost = System.getProperty("hzlab.stats.host");
        InetAddress bindTo = statsHost == null || statsHost.isEmpty()
            ? InetAddress.getLoopbackAddress() : InetAddress.getByName(statsHost);
        server.bind(new InetSocketAddress(bindTo, 0));
        Path portFile = Paths.get(args[0]);
        Path tmp = Paths.get(args[0] + ".tmp");
        Files.write(tmp, Integer.toString(server.getLocalPort()).getBytes(StandardCharsets.UTF_8));
        Files.move(tmp, portFile, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        while (true) {
            Socket socket = server.accept();
            Thread t = new Thread(() -> serve(hz, socket), "hzlab-stats");
            t.setDaemon(true);
            t.start();
        }
    }

    private static void serve(HazelcastInstance hz, Socket socket) {
        try (Socket s = socket) {
            s.setSoTimeout(30_000);
            BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
            String line = in.readLine();
            String answer;
            try {
                if (line == null) {
                    return;
                }
                String[] parts = line.trim().split(" ", 2);
                if (parts[0].equals("stats")) {
                    answer = stats(hz, parts.length > 1 ? parts[1] : "");
                } else {
                    answer = "{\"error\":" + str("unknown request: " + parts[0]) + "}";
                }
            } catch (Throwable e) {
                answer = "{\"error\":" + str(e.toString()) + "}";
            }
            OutputStream out = s.getOutputStream();
            out.write((answer + "\n").getBytes(StandardCharsets.UTF_8));
            out.flush();
        } catch (Exception e) {
            // The caller went away; nothing to report to.
        }
    }

    private static String stats(HazelcastInstance hz, String mapList) {
        Node node = ((HazelcastInstanceProxy) hz).getOriginal().node;
        InternalPartitionService ps = node.getPartitionService();
        StringBuilder b = new StringBuilder(32 * 1024);
        Member local = hz.getCluster().getLocalMember();
        b.append("{\"uuid\":").append(str(local.getUuid().toString()));
        b.append(",\"address\":").append(str(addr(local.getAddress())));
        b.append(",\"state\":").append(str(node.getState().toString()));
        b.append(",\"master\":").append(node.isMaster());
        b.append(",\"members\":[");
        boolean first = true;
        for (Member m : hz.getCluster().getMembers()) {
            if (!first) b.append(',');
            first = false;
            b.append("{\"uuid\":").append(str(m.getUuid().toString()))
                .append(",\"address\":").append(str(addr(m.getAddress()))).append('}');
        }
        b.append(']');
        // isClusterSafe asks every member in this member's list; one that has just died
        // but is not yet removed would hold the answer for the operation call timeout
        // (60 s): answer "not safe" after a short wait instead, and let the caller ask again.
        b.append(",\"cluster_safe\":").append(bounded(() -> hz.getPartitionService().isClusterSafe(), 3_000));
        b.append(",\"member_safe\":").append(bounded(() -> hz.getPartitionService().isLocalMemberSafe(), 15_000));
        b.append(",\"migrating\":").append(ps.hasOnGoingMigration());
        b.append(",\"migration_queue\":").append(ps.getMigrationQueueSize());
        int count = ps.getPartitionCount();
        b.append(",\"partition_count\":").append(count);
        b.append(",\"replicas\":[");
        for (int p = 0; p < count; p++) {
            if (p > 0) b.append(',');
            InternalPartition part = ps.getPartition(p);
            PartitionReplica[] replicas = part.getReplicasCopy();
            int last = replicas.length - 1;
            while (last >= 0 && replicas[last] == null) last--;
            b.append('[');
            for (int r = 0; r <= last; r++) {
                if (r > 0) b.append(',');
                b.append(replicas[r] == null ? "null" : str(replicas[r].uuid().toString()));
            }
            b.append(']');
        }
        b.append(']');
        TreeSet<String> maps = new TreeSet<>();
        for (DistributedObject o : hz.getDistributedObjects()) {
            if (MAP_SERVICE.equals(o.getServiceName())) maps.add(o.getName());
        }
        for (String m : mapList.split(",")) {
            if (!m.trim().isEmpty()) maps.add(m.trim());
        }
        b.append(",\"maps\":[");
        first = true;
        for (String name : maps) {
            if (!first) b.append(',');
            first = false;
            LocalMapStats s = hz.getMap(name).getLocalMapStats();
            b.append("{\"name\":").append(str(name))
                .append(",\"owned_entries\":").append(s.getOwnedEntryCount())
                .append(",\"backup_entries\":").append(s.getBackupEntryCount())
                .append(",\"backup_count\":").append(s.getBackupCount()).append('}');
        }
        b.append("]}");
        return b.toString();
    }

    private static final ExecutorService CHECKS = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "hzlab-check");
        t.setDaemon(true);
        return t;
    });

    // The check's answer, or false if it fails or takes longer than `millis`.
    private static boolean bounded(Supplier<Boolean> check, long millis) {
        try {
            return CompletableFuture.supplyAsync(check, CHECKS).get(millis, TimeUnit.MILLISECONDS);
        } catch (Exception e) {
            return false;
        }
    }

    private static String addr(com.hazelcast.cluster.Address a) {
        return a.getHost() + ":" + a.getPort();
    }

    private static String str(String s) {
        StringBuilder b = new StringBuilder(s.length() + 2).append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '"' || c == '\\') {
                b.append('\\').append(c);
            } else if (c < 0x20) {
                b.append(String.format("\\u%04x", (int) c));
            } else {
                b.append(c);
            }
        }
        return b.append('"').toString();
    }
}
