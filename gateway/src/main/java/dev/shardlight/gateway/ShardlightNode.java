package dev.shardlight.gateway;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;
import dev.shardlight.gateway.routing.ClassifyCall;
import dev.shardlight.gateway.routing.IntentConfig;
import dev.shardlight.gateway.routing.IntentRouter;
import dev.shardlight.gateway.routing.LabelClassifier;
import dev.shardlight.gateway.routing.RoutingMetrics;
import dev.shardlight.router.CapacityAllocationStrategy;
import dev.shardlight.gateway.tenants.AdminService;
import dev.shardlight.gateway.tenants.Admission;
import dev.shardlight.gateway.tenants.TenantRegistry;
import dev.shardlight.gateway.tenants.UsageLedger;
import dev.shardlight.router.ReplicaDirectory;
import dev.shardlight.router.RouterView;
import dev.shardlight.router.WorkerCapacity;
import dev.shardlight.tokenizer.Tokenizer;
import dev.shardlight.tokenizer.server.RequestLimits;
import dev.shardlight.tokenizer.server.TokenizerServer;
import dev.shardlight.worker.EngineReplica;
import dev.shardlight.worker.LocalReplicas;
import dev.shardlight.worker.ModelCatalog;
import dev.shardlight.worker.ModelReplica;
import dev.shardlight.worker.ReplicaEngine;
import io.grpc.ServerBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.prometheus.metrics.exporter.httpserver.HTTPServer;
import io.prometheus.metrics.instrumentation.jvm.JvmMetrics;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.Join;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.BiFunction;
import java.util.function.Function;

/**
 * One Shardlight JVM: a Pekko cluster member with some of the roles gateway, router and worker,
 * all configured from {@code shardlight.*} (defaults in shardlight.conf). Only wires: the replicas are
 * {@link ModelReplica} entities, placement is {@link CapacityAllocationStrategy}, the router view
 * is {@link ReplicaDirectory}, the gRPC side is {@link GatewayServer}.
 */
public final class ShardlightNode implements AutoCloseable {
    public static final String SYSTEM_NAME = "shardlight";

    private final ActorSystem<Void> system;
    private final RouterView view = new RouterView();
    private final LocalReplicas localReplicas = new LocalReplicas();
    private final ModelCatalog catalog;
    private final GatewayServer gateway;
    private final HTTPServer metricsServer;
    private final Duration shutdownGrace;
    private final String host;
    private final Set<String> roles;
    private ActorRef<ReplicaDirectory.Command> directory;
    private HttpDoor httpDoor;
    private TokenizerServer tokenizerServer;
    private TenantRegistry tenantRegistry;
    private UsageLedger usage;

    private ShardlightNode(Config config, ReplicaEngine.Factory engines, Function<ModelCatalog, PromptCodec.Registry> codecsFor,
                           BiFunction<String, Integer, ServerBuilder<?>> serverBuilder) throws IOException {
        Config s = config.getConfig("shardlight");
        Set<String> roles = new LinkedHashSet<>(s.getStringList("roles"));
        for (String r : roles) {
            // "tokenizer" serves the models' tokenizers over gRPC (shardlight.v1.TokenizerService); gateways
            // still tokenize with the same library in-process, where per-request latency matters.
            if (!Set.of("gateway", "router", "worker", "tokenizer").contains(r)) {
                throw new IllegalArgumentException("shardlight.roles: unknown role \"" + r + "\" (gateway, router, worker, tokenizer)");
            }
        }
        if (roles.contains("gateway")) {
            roles.add("router"); // the gateway asks its node-local router view for replicas
        }
        Set<String> clusterRoles = new LinkedHashSet<>(roles);
        if (roles.contains(ModelReplica.WORKER_ROLE)) {
            clusterRoles.addAll(WorkerCapacity.ofMegabytes(s.getLong("worker.memory-mb"), s.getString("worker.device")).roles());
        }
        List<String> seeds = new ArrayList<>();
        for (String hp : s.getStringList("seed-nodes")) {
            seeds.add("pekko://" + SYSTEM_NAME + "@" + hp);
        }
        Map<String, Object> overrides = new HashMap<>();
        overrides.put("pekko.cluster.roles", List.copyOf(clusterRoles));
        overrides.put("pekko.cluster.seed-nodes", seeds);
        // stated outright so remoting always follows shardlight.host / cluster-port
        overrides.put("pekko.remote.artery.canonical.hostname", s.getString("host"));
        overrides.put("pekko.remote.artery.canonical.port", s.getInt("cluster-port"));
        Config full = ConfigFactory.parseMap(overrides).withFallback(config).resolve();

        this.catalog = ModelCatalog.fromConfig(full);
        PromptCodec.Registry codecs = codecsFor.apply(catalog);
        this.host = s.getString("host");
        this.roles = Set.copyOf(roles);
        this.shutdownGrace = s.getDuration("gateway.shutdown-grace");
        this.system = ActorSystem.create(Behaviors.empty(), SYSTEM_NAME, full);
        try {
            if (seeds.isEmpty()) {
                Cluster cluster = Cluster.get(system);
                cluster.manager().tell(Join.create(cluster.selfMember().address()));
            }
            ModelReplica.initSharding(system, catalog, engines, new CapacityAllocationStrategy(system, catalog), localReplicas);

            PrometheusRegistry registry = new PrometheusRegistry();
            JvmMetrics.builder().register(registry);
            // A worker-only node has no router view: it reports the replicas it hosts itself.
            ServingMetrics metrics = new ServingMetrics(registry, view,
                    roles.contains("router") ? null : localReplicas);
            if (roles.contains("router")) {
                directory = system.systemActorOf(
                        ReplicaDirectory.create(catalog, view, s.getDuration("router.poll-interval")), "replica-directory",
                        Props.empty());
                if (roles.contains("gateway")) {
                    var settings = new GenerateSession.Settings(s.getDuration("gateway.admit-timeout"),
                            s.getDuration("gateway.retry-backoff"));
                    // Tenants: shardlight.tenants (+ the older gateway.api-keys), admin changes and usage under data-dir
                    String dataDir = s.getString("gateway.data-dir");
                    java.nio.file.Path data = dataDir.isEmpty() ? null : java.nio.file.Path.of(dataDir);
                    tenantRegistry = TenantRegistry.fromConfig(s, data);
                    usage = new UsageLedger(data, metrics::served);
                    Admission admission = new Admission(tenantRegistry, usage, metrics::refused);
                    InferenceService inference = new InferenceService(system, directory, view, codecs, metrics, settings, admission);
                    enableRouting(inference, full, codecs, registry);
                    Tenants tenants = new Tenants(tenantRegistry);
                    gateway = new GatewayServer(serverBuilder.apply(s.getString("host"), s.getInt("gateway.port")),
                            inference, tenants, new AdminService(tenantRegistry, usage).protectedBy(s.getString("gateway.admin-key")))
                            .start();
                    // OpenAI-compatible HTTP (0 = off): a second door into the same InferenceService
                    int httpPort = s.hasPath("http.port") ? s.getInt("http.port") : 0;
                    httpDoor = httpPort <= 0 ? null : new HttpDoor(s.getString("host"), httpPort,
                            s.hasPath("http.max-body-bytes") ? s.getBytes("http.max-body-bytes") : 8L << 20,
                            inference, tenants, metrics, this::anyModelReady);
                    gateway.setServing(false);
                    system.scheduler().scheduleWithFixedDelay(Duration.ZERO, Duration.ofMillis(250),
                            () -> gateway.setServing(anyModelReady()), system.executionContext());
                } else {
                    gateway = null;
                }
            } else {
                gateway = null;
            }
            if (roles.contains("tokenizer")) {
                Map<String, Tokenizer> tokenizers = new java.util.TreeMap<>();
                for (String id : catalog.ids()) {
                    // The gateway's codec cache when this node has one: each tokenizer is loaded once per node.
                    Optional<Tokenizer> t = codecs instanceof TokenizerCodecs shared ? shared.tokenizer(id)
                            : catalog.find(id).flatMap(TokenizerCodecs::tokenizerOf);
                    t.ifPresent(tok -> tokenizers.put(id, tok));
                }
                tokenizerServer = new TokenizerServer(serverBuilder.apply(s.getString("host"), s.getInt("tokenizer.port")),
                        tokenizers, RequestLimits.DEFAULT).start();
                system.log().info("tokenizer service on port {} for {}", tokenizerServer.port(), tokenizers.keySet());
            }
            int metricsPort = s.getInt("metrics.port");
            metricsServer = metricsPort < 0 ? null
                    : HTTPServer.builder().hostname(s.getString("host")).port(metricsPort).registry(registry).buildAndStart();
        } catch (RuntimeException | IOException e) {
            system.terminate();
            closeUsage();
            throw e;
        }
    }

    private void closeUsage() {
        if (usage != null) {
            try {
                usage.close();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** Intent routing (model "auto", shardlight.intents) and the Classify call on this gateway. */
    private void enableRouting(InferenceService inference, Config full, PromptCodec.Registry codecs, PrometheusRegistry registry) {
        IntentConfig intents = IntentConfig.fromConfig(full);
        intents.checkModelsDeclared(catalog.ids());
        LabelClassifier classifier = new LabelClassifier(system, directory, view, codecs);
        RoutingMetrics routingMetrics = new RoutingMetrics(registry);
        inference.enableRouting(new IntentRouter(intents, classifier, view, routingMetrics),
                new ClassifyCall(classifier, routingMetrics));
    }

    /**
     * Starts a node from configuration (shardlight.conf defaults under it): the real engine, the
     * models' own tokenizers (loaded in the background right away) and gRPC on Netty.
     */
    public static ShardlightNode start(Config config) throws IOException {
        return start(withHttpDefault(config), EngineReplica::open, catalog -> {
            TokenizerCodecs codecs = new TokenizerCodecs(catalog);
            Thread.ofPlatform().daemon().name("tokenizer-preload").start(codecs::preload);
            return codecs;
        }, (host, port) -> NettyServerBuilder.forAddress(new InetSocketAddress(host, port)));
    }

    /** As {@link #start(Config)}; the OpenAI-compatible HTTP API defaults to port 8080 here (tests leave it off). */
    private static Config withHttpDefault(Config config) {
        return config.withFallback(ConfigFactory.parseString("shardlight.http.port = 8080"));
    }

    /** Full control, for tests: the engine behind replicas, the codecs, and the gRPC transport (e.g. in-process). */
    public static ShardlightNode start(Config config, ReplicaEngine.Factory engines,
                                       Function<ModelCatalog, PromptCodec.Registry> codecs,
                                       BiFunction<String, Integer, ServerBuilder<?>> serverBuilder) throws IOException {
        Config layered = config.withFallback(ConfigFactory.parseResources(ShardlightNode.class.getClassLoader(), "shardlight.conf"))
                .withFallback(ConfigFactory.load());
        return new ShardlightNode(layered, engines, codecs, serverBuilder);
    }

    /** Whether some declared model can serve (health): one failed model does not take the node out. */
    public boolean anyModelReady() {
        return view.models().stream().anyMatch(m -> m.readyReplicas() > 0);
    }

    /**
     * Waits until every declared model has a ready replica, or all of its replicas failed to load
     * (gateway/router nodes only).
     *
     * @return model id → why it cannot serve (failed replicas' messages); empty when all are ready
     * @throws IllegalStateException when some model is neither ready nor failed after {@code timeout}
     */
    public Map<String, String> awaitSettled(Duration timeout) throws InterruptedException {
        long end = System.nanoTime() + timeout.toNanos();
        while (true) {
            Map<String, String> failed = new java.util.TreeMap<>();
            StringBuilder waiting = new StringBuilder();
            for (var m : view.models()) {
                if (m.readyReplicas() > 0) {
                    continue;
                }
                boolean allFailed = !m.replicas().isEmpty() && m.replicas().stream().allMatch(r -> r.fresh()
                        && r.status() != null && r.status().state() == ModelReplica.State.FAILED);
                String states = String.join(", ", m.replicas().stream().map(r -> r.replicaId() + " "
                        + ModelDescriptions.state(r).name().substring("REPLICA_STATE_".length()).toLowerCase(java.util.Locale.ROOT)
                        + (r.status() != null && !r.status().message().isEmpty() ? " (" + r.status().message() + ")" : "")).toList());
                if (allFailed) {
                    failed.put(m.spec().id(), states);
                } else {
                    waiting.append(waiting.isEmpty() ? "" : "; ").append(m.spec().id()).append(": ").append(states);
                }
            }
            if (!view.models().isEmpty() && waiting.isEmpty()) {
                return failed;
            }
            if (System.nanoTime() > end) {
                throw new IllegalStateException("models not ready after " + timeout.toSeconds() + " s: "
                        + (view.models().isEmpty() ? "none declared" : waiting));
            }
            Thread.sleep(100);
        }
    }

    public ActorSystem<Void> system() {
        return system;
    }

    /** The address this node listens on (cluster remoting, gRPC, metrics). */
    public String host() {
        return host;
    }

    public Set<String> roles() {
        return roles;
    }

    public RouterView view() {
        return view;
    }

    /** The replicas hosted on this node (worker role), as they report themselves. */
    public LocalReplicas localReplicas() {
        return localReplicas;
    }

    public ModelCatalog catalog() {
        return catalog;
    }

    /**
     * The tenant registry of a gateway node (null elsewhere); {@link TenantRegistry#schedulingOf}
     * gives a tenant's priority class and weight for the replicas' schedulers.
     */
    public TenantRegistry tenantRegistry() {
        return tenantRegistry;
    }

    /** Usage served by this gateway node (null on a node without the gateway role). */
    public UsageLedger usage() {
        return usage;
    }

    /** The gRPC port, or -1 on a node without the gateway role. */
    public int grpcPort() {
        return gateway == null ? -1 : gateway.port();
    }

    /** The OpenAI-compatible HTTP port, or -1 when off (shardlight.http.port = 0) or not a gateway. */
    public int httpPort() {
        return httpDoor == null ? -1 : httpDoor.port();
    }

    /** The tokenizer service's gRPC port, or -1 when this node has no tokenizer role. */
    public int tokenizerPort() {
        return tokenizerServer == null ? -1 : tokenizerServer.port();
    }

    /** The /metrics port, or -1 when metrics are off. */
    public int metricsPort() {
        return metricsServer == null ? -1 : metricsServer.getPort();
    }

    /** Graceful: the gateway stops taking calls and drains, then the node leaves the cluster (replicas hand off). */
    @Override
    public void close() throws InterruptedException {
        if (tokenizerServer != null) {
            tokenizerServer.stop(shutdownGrace.toSeconds());
        }
        if (httpDoor != null) {
            httpDoor.stop(shutdownGrace.toSeconds());
        }
        if (gateway != null) {
            gateway.stop(shutdownGrace.toSeconds());
        }
        if (metricsServer != null) {
            metricsServer.close();
        }
        if (directory != null) {
            directory.tell(ReplicaDirectory.Stop.INSTANCE); // no more polls for the regions to buffer while they hand off
        }
        system.terminate();
        try {
            system.getWhenTerminated().toCompletableFuture().get(30, java.util.concurrent.TimeUnit.SECONDS);
        } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
            throw new IllegalStateException("actor system did not terminate: " + e, e);
        } finally {
            // after the actor system: a session cut short by shutdown meters its tokens as it stops
            closeUsage();
        }
    }
}
