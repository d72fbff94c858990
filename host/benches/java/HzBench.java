// The seed's workloads with the official Java client, for host/benches/real.rs.
//
// One HazelcastClient, three worker threads (locks are owned per thread). For every workload
// the workers wait on a barrier, run their share, and record per-operation latencies; one
// JSON line per workload goes to standard output, prefixed with "RESULT ": wall time from the
// common start to the last end, operation count, p50 and p99 of one operation, and the
// workload's own check value. A short warm-up of each workload runs first (JIT).
//
//   javac -cp hazelcast-5.7.0.jar -d OUT HzBench.java
//   java -cp hazelcast-5.7.0.jar:OUT -Dhazelcast.logging.type=none HzBench \
//       NAME 127.0.0.1:5701,... [iterations] [keys] [items] [warmup]

import com.hazelcast.client.HazelcastClient;
import com.hazelcast.client.config.ClientConfig;
import com.hazelcast.collection.IQueue;
import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.map.IMap;

import java.util.Arrays;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

public class HzBench {
    static final int WORKERS = 3;

    interface Op<T> {
        T run() throws Exception;
    }

    static final class Worker {
        long start, end;
        long[] lats = new long[1024];
        int n;
        long extra;

        <T> T timed(Op<T> op) throws Exception {
            long t = System.nanoTime();
            T r = op.run();
            long d = System.nanoTime() - t;
            if (n == lats.length) lats = Arrays.copyOf(lats, n * 2);
            lats[n++] = d;
            return r;
        }
    }

    public static void main(String[] args) throws Exception {
        String clusterName = args[0];
        String[] addresses = args[1].split(",");
        int iterations = args.length > 2 ? Integer.parseInt(args[2]) : 10000;
        int keys = args.length > 3 ? Integer.parseInt(args[3]) : 1000;
        int items = args.length > 4 ? Integer.parseInt(args[4]) : 100;
        int warmup = args.length > 5 ? Integer.parseInt(args[5]) : 300;

        ClientConfig config = new ClientConfig();
        config.setClusterName(clusterName);
        config.getNetworkConfig().addAddress(addresses);
        HazelcastInstance client = HazelcastClient.newHazelcastClient(config);
        try {
            for (String workload : new String[] {"populate", "race", "pessimistic", "optimistic", "queue"}) {
                run(client, workload, warmup, warmup, 20, false);
                run(client, workload, iterations, keys, items, true);
            }
        } finally {
            client.shutdown();
        }
    }

    static void reset(HazelcastInstance c, String workload) {
        switch (workload) {
            case "populate": c.getMap("distributed-map").clear(); break;
            case "queue":
                c.getMap("queue.state").clear();
                c.getMap("queue.consumed").clear();
                IQueue<Object> q = c.getQueue("queue");
                while (q.poll() != null) { }
                break;
            default: c.getMap("counter").set("key", 0);
        }
    }

    static void run(HazelcastInstance c, String workload, int iterations, int keys, int items,
                    boolean print) throws Exception {
        reset(c, workload);
        CyclicBarrier barrier = new CyclicBarrier(WORKERS);
        Worker[] workers = new Worker[WORKERS];
        Thread[] threads = new Thread[WORKERS];
        AtomicLong failures = new AtomicLong();
        for (int i = 0; i < WORKERS; i++) {
            Worker w = workers[i] = new Worker();
            int index = i;
            threads[i] = new Thread(() -> {
                try {
                    barrier.await();
                    w.start = System.nanoTime();
                    work(c, workload, index, iterations, keys, items, w);
                    w.end = System.nanoTime();
                } catch (Exception e) {
                    failures.incrementAndGet();
                    e.printStackTrace();
                }
            });
            threads[i].start();
        }
        for (Thread t : threads) t.join();
        if (!print) return;
        long start = Long.MAX_VALUE, end = 0, extra = 0;
        int total = 0;
        for (Worker w : workers) {
            start = Math.min(start, w.start);
            end = Math.max(end, w.end);
            total += w.n;
            extra += w.extra;
        }
        long[] all = new long[total];
        int k = 0;
        for (Worker w : workers) {
            System.arraycopy(w.lats, 0, all, k, w.n);
            k += w.n;
        }
        Arrays.sort(all);
        Object check;
        switch (workload) {
            case "populate": check = c.getMap("distributed-map").size(); break;
            case "queue": check = c.getMap("queue.consumed").size(); break;
            default: check = c.getMap("counter").get("key");
        }
        String extraName = workload.equals("optimistic") ? "retries" : workload.equals("queue") ? "consumed" : "none";
        System.out.printf(java.util.Locale.ROOT,
            "RESULT {\"workload\": \"%s\", \"secs\": %.6f, \"ops\": %d, \"p50_us\": %.1f, \"p99_us\": %.1f, \"check\": %s, \"extra\": {\"%s\": %d}, \"failures\": %d}%n",
            workload, (end - start) / 1e9, total, pct(all, 50), pct(all, 99), check, extraName, extra, failures.get());
    }

    static double pct(long[] sorted, double p) {
        if (sorted.length == 0) return 0;
        int i = (int) Math.min(sorted.length - 1, Math.round(p / 100.0 * (sorted.length - 1)));
        return sorted[i] / 1000.0;
    }

    static void work(HazelcastInstance c, String workload, int index, int iterations, int keys,
                     int items, Worker w) throws Exception {
        IMap<String, Integer> counter = c.getMap("counter");
        switch (workload) {
            case "populate": {
                if (index != 0) return;
                IMap<Integer, Integer> m = c.getMap("distributed-map");
                for (int k = 0; k < keys; k++) {
                    int key = k;
                    w.timed(() -> { m.set(key, key); return null; });
                }
                return;
            }
            case "race":
                for (int i = 0; i < iterations; i++) {
                    Integer v = w.timed(() -> counter.get("key"));
                    int next = (v == null ? 0 : v) + 1;
                    w.timed(() -> { counter.set("key", next); return null; });
                }
                return;
            case "pessimistic":
                for (int i = 0; i < iterations; i++) {
                    w.timed(() -> { counter.lock("key"); return null; });
                    Integer v = w.timed(() -> counter.get("key"));
                    int next = (v == null ? 0 : v) + 1;
                    w.timed(() -> { counter.set("key", next); return null; });
                    w.timed(() -> { counter.unlock("key"); return null; });
                }
                return;
            case "optimistic":
                for (int i = 0; i < iterations; i++) {
                    while (true) {
                        Integer got = w.timed(() -> counter.get("key"));
                        int v = got == null ? 0 : got;
                        if (w.timed(() -> counter.replace("key", v, v + 1))) break;
                        w.extra++;
                    }
                }
                return;
            case "queue": {
                IQueue<Integer> q = c.getQueue("queue");
                IMap<String, Boolean> state = c.getMap("queue.state");
                if (index == 0) {
                    for (int item = 1; item <= items; item++) {
                        int it = item;
                        if (!w.timed(() -> q.offer(it))) w.timed(() -> { q.put(it); return null; });
                    }
                    w.timed(() -> { state.set("done-0", true); return null; });
                } else {
                    IMap<Integer, Integer> consumed = c.getMap("queue.consumed");
                    while (true) {
                        boolean done = w.timed(() -> state.get("done-0")) != null;
                        Integer item = w.timed(() -> q.poll(100, TimeUnit.MILLISECONDS));
                        if (item != null) {
                            w.timed(() -> consumed.put(item, index));
                            w.extra++;
                        } else if (done) {
                            break;
                        }
                    }
                }
                return;
            }
            default: throw new IllegalArgumentException(workload);
        }
    }
}
