package dev.shardlight.gateway;

import com.typesafe.config.Config;
import dev.shardlight.engine.kernel.Backends;
import dev.shardlight.engine.model.Model;
import dev.shardlight.engine.runtime.CpuForwardPass;
import dev.shardlight.engine.runtime.LabelScorer;
import dev.shardlight.gateway.routing.IntentConfig;
import dev.shardlight.gateway.routing.LabelClassifier;
import dev.shardlight.proto.v1.Chat;
import dev.shardlight.proto.v1.ChatMessage;
import dev.shardlight.proto.v1.ClassifyLabel;
import dev.shardlight.proto.v1.ClassifyRequest;
import dev.shardlight.proto.v1.ClassifyResponse;
import dev.shardlight.proto.v1.Finished;
import dev.shardlight.proto.v1.GenerateRequest;
import dev.shardlight.proto.v1.InferenceGrpc;
import dev.shardlight.proto.v1.LabelScore;
import dev.shardlight.worker.EngineReplica;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.inprocess.InProcessServerBuilder;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Intent routing and Classify end to end (gRPC → gateway → router → replica → engine) on the tiny
 * Gemma fixture with its own tokenizer. The classifier's decisions are checked against
 * {@link LabelScorer} run directly on the same file, so the test knows which target each request
 * must reach. Three nodes: routing by decision; a fallback below confidence with a model ladder
 * under overload; a router model that failed to load.
 */
class IntentRoutingTest {
    static final String INTENTS = """
            shardlight.metrics.port = 0
            shardlight.intents {
              router-model = "router"
              fallback-model = "fallback"
              min-confidence = %s
              timeout = %s
              intents = [
                { name = "yes", description = "the request is a question", target = "big",
                  examples = ["is it raining?"] }
                { name = "no", target = "mid" }
                { name = "maybe", target = "small" }
              ]
              %s
            }
            """;
    static final List<String> INPUTS = List.of("my invoice is wrong", "how do I sort a list in python?", "hello there",
            "the the the", "write a haiku about rain", "refund please", "segfault in my C code", "good morning", "x",
            "1234567", "?", "zzzz zzzz");

    static Node routed;
    static Node fallback;
    static Node brokenRouter;

    record Node(TestNodes.Started started, ManagedChannel channel, Config config) {
        InferenceGrpc.InferenceBlockingStub stub() {
            return InferenceGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS);
        }

        void close() throws InterruptedException {
            channel.shutdownNow();
            started.close();
        }
    }

    /** Extra time the router model's replicas take to score labels (a router slower than the timeout). */
    static volatile long routerScoreDelayMillis;

    static Node start(String routerPath, String minConfidence, String ladder) throws Exception {
        return start(routerPath, minConfidence, "10s", ladder);
    }

    static Node start(String routerPath, String minConfidence, String timeout, String ladder) throws Exception {
        String gguf = TestNodes.tinyGemma();
        List<String> models = new ArrayList<>();
        models.add(TestNodes.model("router", routerPath, 1, 256, 4));
        for (String m : List.of("big", "mid", "small", "fallback")) {
            models.add(TestNodes.model(m, gguf, 1, 256, 4));
        }
        Config config = TestNodes.config(models, INTENTS.formatted(minConfidence, timeout, ladder));
        String name = "intent-test-" + System.nanoTime();
        ShardlightNode node = ShardlightNode.start(config,
                spec -> new DelayedEngine(EngineReplica.open(spec), () -> 0,
                        () -> spec.id().equals("router") ? routerScoreDelayMillis : 0), TokenizerCodecs::new,
                (host, port) -> InProcessServerBuilder.forName(name));
        try {
            node.awaitSettled(Duration.ofSeconds(30));
        } catch (RuntimeException | InterruptedException e) {
            node.close();
            throw e;
        }
        TestNodes.Started started = new TestNodes.Started(node, name);
        return new Node(started, started.channel(), config);
    }

    @BeforeAll
    static void startNodes() throws Exception {
        Path broken = Files.createTempFile("broken-router", ".gguf");
        Files.writeString(broken, "not a model");
        broken.toFile().deleteOnExit();
        routed = start(TestNodes.tinyGemma(), "0.0", "");
        fallback = start(TestNodes.tinyGemma(), "0.99", "2s", "ladder { models = [\"fallback\", \"small\"], queue-threshold = 0 }");
        brokenRouter = start(broken.toString(), "0.0", "");
    }

    @AfterAll
    static void stopNodes() throws Exception {
        for (Node n : new Node[] {routed, fallback, brokenRouter}) {
            if (n != null) {
                n.close();
            }
        }
    }

    /** What the engine itself says for the routing prompt of {@code input}: label → probability, in intent order. */
    static Map<String, Double> engineProbabilities(Node n, String input) throws Exception {
        IntentConfig intents = IntentConfig.fromConfig(n.config());
        List<LabelClassifier.Label> labels = intents.intents().stream()
                .map(i -> new LabelClassifier.Label(i.name(), i.description())).toList();
        LabelClassifier.Prepared p = new LabelClassifier(n.started().node().system(), null, n.started().node().view(),
                new TokenizerCodecs(n.started().node().catalog()))
                .prepare("router", input, labels, intents.promptTemplate(), intents.examplesBlock());
        return softmax(labels, engineScores(p.prompt(), p.labels()));
    }

    static double[] engineScores(int[] prompt, int[][] labels) throws Exception {
        try (Model m = Model.load(Path.of(TestNodes.tinyGemma()))) {
            var s = new LabelScorer(new CpuForwardPass(m, Backends.kernels())).score(prompt, labels);
            return s.labels().stream().mapToDouble(LabelScorer.LabelScore::logLikelihood).toArray();
        }
    }

    static Map<String, Double> softmax(List<LabelClassifier.Label> labels, double[] ll) {
        double max = Double.NEGATIVE_INFINITY;
        for (double v : ll) {
            max = Math.max(max, v);
        }
        double z = 0;
        for (double v : ll) {
            z += Math.exp(v - max);
        }
        Map<String, Double> out = new java.util.LinkedHashMap<>();
        for (int k = 0; k < ll.length; k++) {
            out.put(labels.get(k).name(), Math.exp(ll[k] - max) / z);
        }
        return out;
    }

    static String argmax(Map<String, Double> p) {
        return p.entrySet().stream().max(Map.Entry.comparingByValue()).orElseThrow().getKey();
    }

    static Finished generateAuto(Node n, GenerateRequest.Builder r) {
        Finished[] last = new Finished[1];
        n.stub().generate(r.setModel("auto").setMaxTokens(3).build()).forEachRemaining(m -> {
            if (m.hasFinished()) {
                last[0] = m.getFinished();
            }
        });
        return last[0];
    }

    @Test
    void autoSendsEachRequestToItsTopIntentsTarget() throws Exception {
        Map<String, String> targets = Map.of("yes", "big", "no", "mid", "maybe", "small");
        Set<String> intentsSeen = new HashSet<>();
        for (String input : INPUTS) {
            Map<String, Double> expected = engineProbabilities(routed, input);
            String top = argmax(expected);
            Finished f = generateAuto(routed, GenerateRequest.newBuilder().setText(input));
            var d = f.getRouting();
            assertEquals(top, d.getIntent(), input);
            assertEquals(expected.get(top), d.getProbability(), 1e-4, input);
            assertEquals(targets.get(top), f.getModel(), "served by the top intent's target: " + input);
            assertEquals(f.getModel(), d.getTargetModel());
            assertEquals(targets.get(top), d.getIntendedModel());
            assertFalse(d.getFallback());
            assertFalse(d.getSteppedDown());
            assertEquals("router", d.getRouterModel());
            assertTrue(d.getRoutingMs() > 0);
            String second = expected.entrySet().stream().filter(e -> !e.getKey().equals(top))
                    .max(Map.Entry.comparingByValue()).orElseThrow().getKey();
            assertEquals(second, d.getRunnerUp());
            assertEquals(expected.get(second), d.getRunnerUpProbability(), 1e-4);
            assertTrue(f.getUsage().getCompletionTokens() > 0);
            intentsSeen.add(top);
        }
        assertTrue(intentsSeen.size() >= 2, "the inputs reach more than one target: " + intentsSeen);

        // A conversation is classified as its "role: content" lines, then goes to its target as chat
        // (where the fixture, having no chat template, refuses it: the refusal names the target).
        Chat chat = Chat.newBuilder().addMessages(ChatMessage.newBuilder().setRole("user").setContent("refund please")).build();
        Map<String, Double> expected = engineProbabilities(routed, "user: refund please");
        StatusRuntimeException noTemplate = assertThrows(StatusRuntimeException.class,
                () -> generateAuto(routed, GenerateRequest.newBuilder().setChat(chat)));
        assertEquals("INVALID_ARGUMENT: chat: model " + targets.get(argmax(expected)) + " has no chat template; send text or token_ids",
                noTemplate.getMessage());

        String metrics = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
                + routed.started().node().metricsPort() + "/metrics")).build(), HttpResponse.BodyHandlers.ofString()).body();
        String top = argmax(expected);
        assertTrue(metrics.contains("shardlight_routing_decisions_total{fallback=\"false\",intent=\"" + top + "\",target=\""
                + targets.get(top) + "\"}"), metrics);
        assertTrue(metrics.contains("shardlight_routing_duration_seconds_count{router_model=\"router\"} " + (INPUTS.size() + 1)),
                metrics);
    }

    @Test
    void classifyReturnsTheEnginesLabelProbabilities() throws Exception {
        ClassifyRequest.Builder r = ClassifyRequest.newBuilder().setModel("router").setText("is this spam or not?")
                .addLabels(ClassifyLabel.newBuilder().setName("spam").setDescription("unwanted mail"))
                .addLabels(ClassifyLabel.newBuilder().setName("ham"))
                .addLabels(ClassifyLabel.newBuilder().setName("unsure about it"))
                .setRequestId("classify-1");
        ClassifyResponse resp = routed.stub().classify(r.build());
        assertEquals(3, resp.getScoresCount());
        double sum = resp.getScoresList().stream().mapToDouble(LabelScore::getProbability).sum();
        assertEquals(1.0, sum, 1e-9);
        assertEquals("classify-1", resp.getRequestId());
        assertEquals("router", resp.getModel());
        assertEquals("router#0", resp.getReplica());

        List<LabelClassifier.Label> labels = List.of(new LabelClassifier.Label("spam", "unwanted mail"),
                new LabelClassifier.Label("ham", ""), new LabelClassifier.Label("unsure about it", ""));
        var p = new LabelClassifier(routed.started().node().system(), null, routed.started().node().view(),
                new TokenizerCodecs(routed.started().node().catalog()))
                .prepare("router", "is this spam or not?", labels, IntentConfig.DEFAULT_TEMPLATE);
        double[] ll = engineScores(p.prompt(), p.labels());
        Map<String, Double> expected = softmax(labels, ll);
        for (int k = 0; k < 3; k++) {
            LabelScore s = resp.getScores(k);
            assertEquals(labels.get(k).name(), s.getLabel());
            assertEquals(ll[k], s.getLogLikelihood(), 1e-4);
            assertEquals(expected.get(s.getLabel()), s.getProbability(), 1e-6);
            assertEquals(p.labels()[k].length, s.getTokens());
        }
        assertTrue(resp.getScores(2).getTokens() > 1, "a multi-token label");
        assertEquals(argmax(expected), resp.getTopLabel());
        assertEquals(p.prompt().length, resp.getPromptTokens());
        assertTrue(resp.getDurationMs() >= resp.getEngineMs() && resp.getEngineMs() > 0);
    }

    @Test
    void badClassifyInputGetsASpecificStatus() {
        Map<String, ClassifyRequest.Builder> cases = new HashMap<>();
        var base = ClassifyRequest.newBuilder().setModel("router").setText("hi");
        cases.put("INVALID_ARGUMENT labels: none given; at least one label is needed", base.clone());
        cases.put("INVALID_ARGUMENT labels[1].name is empty", base.clone().addLabels(ClassifyLabel.newBuilder().setName("a"))
                .addLabels(ClassifyLabel.newBuilder().setName("")));
        cases.put("INVALID_ARGUMENT labels[1].name \"a\" is given twice", base.clone()
                .addLabels(ClassifyLabel.newBuilder().setName("a")).addLabels(ClassifyLabel.newBuilder().setName("a")));
        cases.put("INVALID_ARGUMENT input: empty", base.clone().setText("").addLabels(ClassifyLabel.newBuilder().setName("a")));
        cases.put("INVALID_ARGUMENT input: set text or chat", ClassifyRequest.newBuilder().setModel("router")
                .addLabels(ClassifyLabel.newBuilder().setName("a")));
        cases.put("INVALID_ARGUMENT prompt_template must contain {input}", base.clone().setPromptTemplate("Category:")
                .addLabels(ClassifyLabel.newBuilder().setName("a")));
        cases.put("NOT_FOUND model \"nope\" is not served here; served models: router, big, mid, small, fallback",
                base.clone().setModel("nope").addLabels(ClassifyLabel.newBuilder().setName("a")));
        cases.put("INVALID_ARGUMENT labels[0].name is 40 tokens long, at most 32", base.clone()
                .addLabels(ClassifyLabel.newBuilder().setName("x ".repeat(40).trim())));
        for (var e : cases.entrySet()) {
            StatusRuntimeException ex = assertThrows(StatusRuntimeException.class, () -> routed.stub().classify(e.getValue().build()));
            String got = ex.getStatus().getCode() + " " + ex.getStatus().getDescription();
            if (e.getKey().contains("40 tokens")) {
                assertTrue(got.startsWith("INVALID_ARGUMENT labels[0].name is ") && got.endsWith("tokens long, at most 32"), got);
            } else {
                assertEquals(e.getKey(), got);
            }
        }
        StatusRuntimeException tokens = assertThrows(StatusRuntimeException.class, () -> routed.stub().generate(
                TestNodes.tokens("auto", 3, 2, 9).build()).hasNext());
        assertEquals(Status.Code.INVALID_ARGUMENT, tokens.getStatus().getCode());
        assertTrue(tokens.getStatus().getDescription().contains("model \"auto\" needs text or chat input"));
    }

    @Test
    void belowMinConfidenceTheFallbackServesAndTheLadderStepsDownWhenItIsBusy() throws Exception {
        String input = "my invoice is wrong";
        Map<String, Double> expected = engineProbabilities(fallback, input);
        String top = argmax(expected);
        assertTrue(expected.get(top) < 0.99, "the fixture model is not that sure: " + expected);
        TestNodes.await(() -> fallback.started().node().view().model("fallback").orElseThrow().replicas().get(0)
                .status().load() == 0, "fallback idle");
        Finished f = generateAuto(fallback, GenerateRequest.newBuilder().setText(input));
        var d = f.getRouting();
        assertEquals("fallback", f.getModel());
        assertTrue(d.getFallback());
        assertEquals(top, d.getIntent());
        assertEquals(expected.get(top), d.getProbability(), 1e-4);
        assertEquals("fallback", d.getIntendedModel());
        assertTrue(d.getFallbackReason().startsWith("top intent " + top + " has probability "), d.getFallbackReason());
        assertTrue(d.getFallbackReason().endsWith("below min-confidence 0.9900"), d.getFallbackReason());
        assertFalse(d.getSteppedDown());

        // Occupy the fallback model's only replica, then the ladder moves the next request down a rung.
        var busy = GatewayErrorsTest.StalledCall.start(fallback.channel(),
                TestNodes.tokens("fallback", 240, GatewayErrorsTest.LONG_PROMPT).build(), 60);
        try {
            TestNodes.await(() -> fallback.started().node().view().model("fallback").orElseThrow().replicas().get(0)
                    .status().load() > 0, "fallback busy in the router's view");
            Finished stepped = generateAuto(fallback, GenerateRequest.newBuilder().setText(input));
            assertEquals("small", stepped.getModel());
            assertTrue(stepped.getRouting().getSteppedDown());
            assertEquals("fallback", stepped.getRouting().getIntendedModel());
            assertEquals("small", stepped.getRouting().getTargetModel());
            assertTrue(stepped.getRouting().getStepDownReason().startsWith("fallback has 1 requests queued or running"),
                    stepped.getRouting().getStepDownReason());
        } finally {
            busy.call.cancel("test done", null);
        }
    }

    @Test
    void aRouterModelSlowerThanTheTimeoutMeansTheFallbackServes() throws Exception {
        // The router replica takes 3 s to score, longer than the 2 s routing timeout.
        routerScoreDelayMillis = 3000;
        try {
            long t0 = System.nanoTime();
            Finished f = generateAuto(fallback, GenerateRequest.newBuilder().setText("hello there"));
            assertTrue(System.nanoTime() - t0 >= TimeUnit.SECONDS.toNanos(2), "waited for the 2 s routing timeout");
            assertEquals("fallback", f.getModel());
            assertTrue(f.getRouting().getFallback());
            assertEquals("", f.getRouting().getIntent());
            assertTrue(f.getRouting().getFallbackReason().startsWith("router model router gave no answer (DEADLINE_EXCEEDED: "),
                    f.getRouting().getFallbackReason());
            assertTrue(f.getRouting().getRoutingMs() >= 2000);
        } finally {
            routerScoreDelayMillis = 0;
        }
    }

    @Test
    void aRouterModelThatIsNotAvailableMeansTheFallbackServes() {
        Finished f = generateAuto(brokenRouter, GenerateRequest.newBuilder().setText("hello there"));
        assertEquals("fallback", f.getModel());
        var d = f.getRouting();
        assertTrue(d.getFallback());
        assertEquals("", d.getIntent());
        assertTrue(d.getFallbackReason().startsWith("router model router gave no answer (UNAVAILABLE: all 1 replicas of router failed to load"),
                d.getFallbackReason());

        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> brokenRouter.stub().classify(
                ClassifyRequest.newBuilder().setModel("router").setText("hi").addLabels(ClassifyLabel.newBuilder().setName("a")).build()));
        assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode());
    }
}
