package dev.shardlight.gateway;

import dev.shardlight.proto.v1.AdminGrpc;
import dev.shardlight.proto.v1.Finished;
import dev.shardlight.proto.v1.GenerateRequest;
import dev.shardlight.proto.v1.GetUsageRequest;
import dev.shardlight.proto.v1.UsageTotal;
import io.grpc.ManagedChannel;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Usage metering adds up exactly: the admin API's totals and the Prometheus counters per tenant,
 * key and model equal the sums of the Finished usage the clients were sent, and still do after
 * the gateway node restarts on the same data dir (the usage journal is replayed).
 */
class TenantUsageMeteringTest {
    static final String ADMIN_KEY = "admin-key-0123456789";
    static final Map<String, String> KEYS = Map.of("acme-a-0123456789abc", "acme/a", "acme-b-0123456789abc", "acme/b",
            "beta-c-0123456789abc", "beta/c");

    static TestNodes.Started start(Path data) throws Exception {
        return TestNodes.start(TestNodes.config(List.of(TestNodes.model("tiny", TestNodes.tinyGemma(), 1, 256, 8),
                TestNodes.model("tiny2", TestNodes.tinyGemma(), 1, 256, 8)), """
                shardlight.metrics.port = 0
                shardlight.gateway.admin-key = "%s"
                shardlight.gateway.data-dir = "%s"
                shardlight.tenants {
                  acme.keys = [ { id = a, key = "acme-a-0123456789abc" }, { id = b, key = "acme-b-0123456789abc" } ]
                  beta { tokens-per-minute = 100000, keys = [ { id = c, key = "beta-c-0123456789abc" } ] }
                }
                """.formatted(ADMIN_KEY, data.toString().replace("\\", "/"))));
    }

    @Test
    void totalsEqualTheFinishedUsageClientsSawBeforeAndAfterARestart(@TempDir Path data) throws Exception {
        // tenant/key|model -> [requests, prompt, completion, cached], from what the clients were sent
        Map<String, List<Long>> expected = new TreeMap<>();
        try (TestNodes.Started node = start(data)) {
            ManagedChannel channel = node.channel();
            try {
                int i = 0;
                for (String key : new TreeMap<>(KEYS).keySet()) {
                    for (String model : List.of("tiny", "tiny2")) {
                        i++;
                        int[] prompt = i % 2 == 0 ? new int[]{2, 4, 5} : new int[]{2, 9, 11, 13, 7};
                        GenerateRequest.Builder r = TestNodes.tokens(model, 3 + 2 * i, prompt);
                        if (i % 3 == 0) {
                            // a request that stops early: its stop token is the first one greedy decoding makes
                            var probe = TenantAdmissionTestSupport.generate(channel, key, TestNodes.tokens(model, 1, prompt).build());
                            add(expected, KEYS.get(key) + "|" + model, probe.get(probe.size() - 1).getFinished());
                            r.setRequestId("short-" + i).addStopTokenIds(probe.get(0).getDelta().getTokenIds(0));
                        }
                        add(expected, KEYS.get(key) + "|" + model, TenantAdmissionTestSupport.finished(channel, key, r.build()));
                    }
                }
            } finally {
                channel.shutdownNow();
            }
            assertEquals(expected, adminTotals(node), "admin API totals");
            assertEquals(expected, metricTotals(node), "Prometheus counters");
        }
        long lines = Files.readAllLines(data.resolve("usage.journal")).size();
        assertEquals(expected.values().stream().mapToLong(v -> v.get(0)).sum(), lines, "one journal line per request");

        try (TestNodes.Started node = start(data)) {
            assertEquals(expected, adminTotals(node), "admin API totals after the restart");
            assertEquals(expected, metricTotals(node), "Prometheus counters after the restart (seeded from the journal)");
            ManagedChannel channel = node.channel();
            try {
                add(expected, "beta/c|tiny", TenantAdmissionTestSupport.finished(channel, "beta-c-0123456789abc",
                        TestNodes.tokens("tiny", 5, 2, 4, 5).build()));
            } finally {
                channel.shutdownNow();
            }
            assertEquals(expected, adminTotals(node), "counting goes on from the replayed totals");
            assertEquals(expected, metricTotals(node));
        }
    }

    static void add(Map<String, List<Long>> totals, String row, Finished f) {
        List<Long> t = totals.computeIfAbsent(row, k -> new java.util.ArrayList<>(List.of(0L, 0L, 0L, 0L)));
        t.set(0, t.get(0) + 1);
        t.set(1, t.get(1) + f.getUsage().getPromptTokens());
        t.set(2, t.get(2) + f.getUsage().getCompletionTokens());
        t.set(3, t.get(3) + f.getUsage().getCachedTokens());
    }

    static Map<String, List<Long>> adminTotals(TestNodes.Started node) {
        ManagedChannel channel = node.channel();
        try {
            var admin = TenantAdminApiTest.withHeader(AdminGrpc.newBlockingStub(channel), "x-admin-key", ADMIN_KEY);
            Map<String, List<Long>> out = new TreeMap<>();
            for (UsageTotal u : admin.getUsage(GetUsageRequest.getDefaultInstance()).getTotalsList()) {
                out.put(u.getTenant() + "/" + u.getKeyId() + "|" + u.getModel(),
                        List.of(u.getRequests(), u.getPromptTokens(), u.getCompletionTokens(), u.getCachedTokens()));
            }
            return out;
        } finally {
            channel.shutdownNow();
        }
    }

    private static final Pattern SAMPLE = Pattern.compile(
            "^shardlight_tenant_(requests|prompt_tokens|completion_tokens|cached_tokens)_total\\{([^}]*)} (\\S+)$", Pattern.MULTILINE);
    private static final Pattern LABEL = Pattern.compile("(\\w+)=\"([^\"]*)\"");
    private static final List<String> FIELDS = List.of("requests", "prompt_tokens", "completion_tokens", "cached_tokens");

    static Map<String, List<Long>> metricTotals(TestNodes.Started node) throws Exception {
        String body = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + node.node().metricsPort() + "/metrics")).build(),
                HttpResponse.BodyHandlers.ofString()).body();
        Map<String, List<Long>> out = new TreeMap<>();
        Matcher m = SAMPLE.matcher(body);
        while (m.find()) {
            Map<String, String> labels = new TreeMap<>();
            Matcher l = LABEL.matcher(m.group(2));
            while (l.find()) {
                labels.put(l.group(1), l.group(2));
            }
            List<Long> t = out.computeIfAbsent(labels.get("tenant") + "/" + labels.get("key") + "|" + labels.get("model"),
                    k -> new java.util.ArrayList<>(List.of(0L, 0L, 0L, 0L)));
            t.set(FIELDS.indexOf(m.group(1)), Math.round(Double.parseDouble(m.group(3))));
        }
        return out;
    }
}
