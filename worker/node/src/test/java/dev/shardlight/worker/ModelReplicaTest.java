package dev.shardlight.worker;

import com.typesafe.config.ConfigFactory;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The replica protocol against a scripted engine, with every message serialized (Jackson CBOR):
 * admission, credit-based backpressure, cancellation within one step, a full queue, and refusals.
 */
class ModelReplicaTest {
    static final ActorTestKit kit = ActorTestKit.create(ConfigFactory.parseString("""
            pekko.actor.provider = cluster
            pekko.remote.artery.canonical.port = 0
            pekko.remote.artery.canonical.hostname = 127.0.0.1
            pekko.actor.serialize-messages = on
            pekko.loglevel = WARNING
            """).withFallback(ConfigFactory.load()));
    static final ModelCatalog catalog = new ModelCatalog(List.of(new ModelSpec("m", "/nonexistent", 1, 32, 1 << 20, 1, 1,
            new ModelSpec.Batching(1, 1, false, false))));

    @AfterAll
    static void stop() {
        kit.shutdownTestKit();
    }

    static ActorRef<ModelReplica.Command> replica(ScriptedEngine engine, String name) {
        return kit.spawn(ModelReplica.create(new ReplicaId("m", 0), catalog, spec -> engine), name);
    }

    static ModelReplica.Generate generate(String id, int maxTokens, int credit, TestProbe<ModelReplica.Event> probe) {
        return new ModelReplica.Generate(id, "tenant-a", new int[] {1, 2, 3}, maxTokens,
                dev.shardlight.engine.runtime.SamplingParams.GREEDY, new int[0], 0, credit, probe.getRef(), 0);
    }

    @Test
    void logprobsTravelWithEachTokenOnlyWhenAskedFor() {
        ScriptedEngine engine = new ScriptedEngine();
        var replica = replica(engine, "logprobs");
        TestProbe<ModelReplica.Event> client = kit.createTestProbe();
        var g = generate("lp", 2, 10, client);
        replica.tell(new ModelReplica.Generate(g.requestId(), g.tenant(), g.prompt(), g.maxTokens(), g.sampling(),
                g.stopTokens(), 0, 10, client.getRef(), 3));
        client.expectMessageClass(ModelReplica.Admitted.class);
        for (int i = 0; i < 2; i++) {
            ModelReplica.Tokens t = client.expectMessageClass(ModelReplica.Tokens.class);
            assertEquals(1, t.logprobs().length);
            ModelReplica.Logprob lp = t.logprobs()[0];
            assertEquals(100 + i, lp.token());
            assertEquals(-0.5f, lp.logprob());
            assertArrayEquals(new int[] {100 + i, 101 + i, 102 + i}, lp.topIds());
            assertArrayEquals(new float[] {-0.5f, -1.5f, -2.5f}, lp.topLogprobs());
        }
        client.expectMessageClass(ModelReplica.Completed.class);

        replica.tell(generate("plain", 1, 10, client));
        client.expectMessageClass(ModelReplica.Admitted.class);
        assertEquals(null, client.expectMessageClass(ModelReplica.Tokens.class).logprobs());
        client.expectMessageClass(ModelReplica.Completed.class);

        replica.tell(new ModelReplica.Generate("too-many", "t", new int[] {1}, 1,
                dev.shardlight.engine.runtime.SamplingParams.GREEDY, new int[0], 0, 1, client.getRef(), 21));
        ModelReplica.Rejected r = client.expectMessageClass(ModelReplica.Rejected.class);
        assertEquals(ModelReplica.Refusal.INVALID, r.refusal());
        assertEquals("logprobs = 21 is outside 0..20", r.message());
    }

    @Test
    void oneRequesterMayHaveSeveralRequestsOnAReplica() {
        // A requester is death-watched once, however many of its requests are queued or running.
        ScriptedEngine engine = new ScriptedEngine();
        var replica = replica(engine, "same-requester");
        TestProbe<ModelReplica.Event> client = kit.createTestProbe();
        replica.tell(generate("first", 2, 1, client)); // credit 1: it holds after its first token
        client.expectMessageClass(ModelReplica.Admitted.class);
        client.expectMessageClass(ModelReplica.Tokens.class); // loaded and running, its requester watched
        replica.tell(generate("second", 2, 10, client));
        java.util.Set<String> admitted = new java.util.HashSet<>(java.util.Set.of("first"));
        java.util.Set<String> completed = new java.util.HashSet<>();
        ModelReplica.Admitted second = client.expectMessageClass(ModelReplica.Admitted.class);
        admitted.add(second.requestId());
        replica.tell(new ModelReplica.Credit("first", 10));
        while (completed.size() < 2) {
            ModelReplica.Event e = client.receiveMessage();
            if (e instanceof ModelReplica.Admitted a) {
                admitted.add(a.requestId());
            } else if (e instanceof ModelReplica.Completed c) {
                completed.add(c.requestId());
            }
        }
        assertEquals(java.util.Set.of("first", "second"), admitted);
        assertEquals(java.util.Set.of("first", "second"), completed);
    }

    @Test
    void tokensStopAtTheCreditWindowAndResumeWhenCreditReturns() {
        ScriptedEngine engine = new ScriptedEngine();
        var replica = replica(engine, "credit");
        TestProbe<ModelReplica.Event> client = kit.createTestProbe();
        replica.tell(generate("r1", 10, 3, client));
        assertEquals(0, client.expectMessageClass(ModelReplica.Admitted.class).queuePosition());
        for (int i = 0; i < 3; i++) {
            assertArrayEquals(new int[] {100 + i}, client.expectMessageClass(ModelReplica.Tokens.class).ids());
        }
        client.expectNoMessage(Duration.ofMillis(200));
        assertTrue(engine.steps <= 4, "the engine waits for credit instead of running ahead: " + engine.steps + " steps");
        replica.tell(new ModelReplica.Credit("r1", 100));
        for (int i = 3; i < 10; i++) {
            assertArrayEquals(new int[] {100 + i}, client.expectMessageClass(ModelReplica.Tokens.class).ids());
        }
        ModelReplica.Completed done = client.expectMessageClass(ModelReplica.Completed.class);
        assertEquals(ModelReplica.Finish.LENGTH, done.finish());
        assertEquals(10, done.completionTokens());
    }

    @Test
    void cancellingAStalledSequenceStopsItWithinOneStepAndFreesItsKvCache() {
        ScriptedEngine engine = new ScriptedEngine();
        var replica = replica(engine, "cancel");
        TestProbe<ModelReplica.Event> client = kit.createTestProbe();
        TestProbe<ModelReplica.Status> status = kit.createTestProbe();
        replica.tell(generate("r1", 25, 2, client));
        client.expectMessageClass(ModelReplica.Admitted.class);
        client.expectMessageClass(ModelReplica.Tokens.class);
        client.expectMessageClass(ModelReplica.Tokens.class);
        replica.tell(new ModelReplica.GetStatus(status.getRef()));
        ModelReplica.Status busy = status.expectMessageClass(ModelReplica.Status.class);
        assertEquals(1, busy.inFlight());
        assertEquals(4096, busy.kvBytes());

        int stepsBefore = engine.steps;
        replica.tell(new ModelReplica.Cancel("r1", "client cancelled"));
        ModelReplica.Completed done = client.expectMessageClass(ModelReplica.Completed.class);
        assertEquals(ModelReplica.Finish.CANCELLED, done.finish());
        assertEquals("client cancelled", done.message());
        assertEquals(2, done.completionTokens());
        assertTrue(engine.steps - stepsBefore <= 1, "at most the step in progress ran after the cancel");
        // Completed goes to the requester first, then the actor hears the sequence ended.
        ModelReplica.Status idle = status.awaitAssert(Duration.ofSeconds(3), () -> {
            replica.tell(new ModelReplica.GetStatus(status.getRef()));
            ModelReplica.Status s = status.expectMessageClass(ModelReplica.Status.class);
            assertEquals(0, s.inFlight());
            return s;
        });
        assertEquals(0, idle.kvBytes());
    }

    @Test
    void aFullQueueRefusesAndAnOverlongRequestIsInvalidWithBothNumbers() {
        ScriptedEngine engine = new ScriptedEngine();
        var replica = replica(engine, "queue");
        TestProbe<ModelReplica.Event> a = kit.createTestProbe();
        TestProbe<ModelReplica.Event> b = kit.createTestProbe();
        TestProbe<ModelReplica.Event> c = kit.createTestProbe();
        replica.tell(generate("a", 20, 1, a)); // runs, stalls after one token
        a.expectMessageClass(ModelReplica.Admitted.class);
        a.expectMessageClass(ModelReplica.Tokens.class);
        replica.tell(generate("b", 5, 8, b)); // queue capacity 1
        assertEquals(0, b.expectMessageClass(ModelReplica.Admitted.class).queuePosition());
        replica.tell(generate("c", 5, 8, c));
        ModelReplica.Rejected full = c.expectMessageClass(ModelReplica.Rejected.class);
        assertEquals(ModelReplica.Refusal.QUEUE_FULL, full.refusal());

        replica.tell(generate("long", 40, 8, c));
        ModelReplica.Rejected invalid = c.expectMessageClass(ModelReplica.Rejected.class);
        assertEquals(ModelReplica.Refusal.INVALID, invalid.refusal());
        assertEquals("prompt (3 tokens) + max_tokens (40) = 43 exceeds the context length of m (32)", invalid.message());

        replica.tell(new ModelReplica.Cancel("b", "client cancelled"));
        assertEquals(ModelReplica.Finish.CANCELLED, b.expectMessageClass(ModelReplica.Completed.class).finish());
        replica.tell(new ModelReplica.Cancel("a", "done"));
        a.expectMessageClass(ModelReplica.Completed.class);
    }

    @Test
    void aModelThatFailsToLoadLeavesTheReplicaFailedAndRefusing() {
        var replica = kit.spawn(ModelReplica.create(new ReplicaId("m", 0), catalog, spec -> {
            throw new java.io.IOException("/nonexistent: no such model file");
        }), "failing");
        TestProbe<ModelReplica.Status> status = kit.createTestProbe();
        ModelReplica.Status s;
        do {
            replica.tell(new ModelReplica.GetStatus(status.getRef()));
            s = status.expectMessageClass(ModelReplica.Status.class);
        } while (s.state() == ModelReplica.State.LOADING);
        assertEquals(ModelReplica.State.FAILED, s.state());
        assertEquals("/nonexistent: no such model file", s.message());
        TestProbe<ModelReplica.Event> client = kit.createTestProbe();
        replica.tell(generate("x", 5, 8, client));
        assertEquals(ModelReplica.Refusal.UNAVAILABLE, client.expectMessageClass(ModelReplica.Rejected.class).refusal());
    }
}
