package dev.shardlight.cli;

import dev.shardlight.proto.v1.Chat;
import dev.shardlight.proto.v1.ChatMessage;
import dev.shardlight.proto.v1.Finished;
import dev.shardlight.proto.v1.GenerateRequest;
import dev.shardlight.proto.v1.GenerateResponse;
import dev.shardlight.proto.v1.GetModelRequest;
import dev.shardlight.proto.v1.InferenceGrpc;
import dev.shardlight.proto.v1.SamplingParams;
import dev.shardlight.proto.v1.TokenIds;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.MetadataUtils;

import java.io.PrintStream;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/** `shardlight chat`: a gRPC client that streams one reply from a running cluster. */
final class ChatCommand implements Subcommand {
    @Override
    public String name() {
        return "chat";
    }

    @Override
    public String summary() {
        return "chat --target HOST:PORT --model ID (\"TEXT\" | --tokens IDS) [--max-tokens N] [--temperature T] [--top-k K]"
                + " [--top-p P] [--seed S] [--stop-tokens IDS] [--api-key KEY] [--deadline-ms N] [--raw]";
    }

    @Override
    public int run(List<String> argv, PrintStream out, PrintStream err) throws Exception {
        Args a = new Args(argv, Set.of("target", "model", "tokens", "max-tokens", "temperature", "top-k", "top-p", "seed",
                "stop-tokens", "api-key", "deadline-ms"), Set.of("raw"));
        String target = a.required("target");
        GenerateRequest.Builder req = GenerateRequest.newBuilder().setModel(a.required("model"))
                .setMaxTokens(a.getInt("max-tokens", 128));
        int[] tokens = a.ids("tokens");
        String text = String.join(" ", a.positional());
        if ((tokens == null) == text.isEmpty()) {
            throw new Args.UsageException("give either a message (\"TEXT\") or --tokens IDS");
        }
        if (tokens != null) {
            TokenIds.Builder t = TokenIds.newBuilder();
            for (int id : tokens) {
                t.addIds(id);
            }
            req.setTokenIds(t);
        } else if (a.flag("raw")) {
            req.setText(text);
        } else {
            req.setChat(Chat.newBuilder().addMessages(ChatMessage.newBuilder().setRole("user").setContent(text)));
        }
        SamplingParams.Builder s = SamplingParams.newBuilder();
        if (a.get("temperature") != null) {
            s.setTemperature(a.getFloat("temperature", 0));
        }
        if (a.get("top-k") != null) {
            s.setTopK(a.getInt("top-k", 0));
        }
        if (a.get("top-p") != null) {
            s.setTopP(a.getFloat("top-p", 1));
        }
        if (a.getLong("seed") != null) {
            s.setSeed(a.getLong("seed"));
        }
        req.setSampling(s);
        int[] stops = a.ids("stop-tokens");
        if (stops != null) {
            for (int id : stops) {
                req.addStopTokenIds(id);
            }
        }

        ManagedChannel channel = NettyChannelBuilder.forTarget(target).usePlaintext().build();
        try {
            var stub = InferenceGrpc.newBlockingStub(channel).withDeadlineAfter(a.getInt("deadline-ms", 300_000), TimeUnit.MILLISECONDS);
            if (a.get("api-key") != null) {
                Metadata md = new Metadata();
                md.put(Metadata.Key.of("x-api-key", Metadata.ASCII_STRING_MARSHALLER), a.get("api-key"));
                stub = stub.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(md));
            }
            // Without a tokenizer on the server the deltas carry ids only: show those instead.
            boolean showIds = !stub.getModel(GetModelRequest.newBuilder().setId(req.getModel()).build()).getHasTokenizer();
            long t0 = System.nanoTime();
            Finished finished = null;
            for (Iterator<GenerateResponse> it = stub.generate(req.build()); it.hasNext(); ) {
                GenerateResponse r = it.next();
                if (r.hasDelta()) {
                    out.print(showIds ? idsText(r.getDelta().getTokenIdsList()) : r.getDelta().getText());
                    out.flush();
                } else if (r.hasFinished()) {
                    finished = r.getFinished();
                }
            }
            out.println();
            if (finished != null) {
                err.printf("[%s; %d prompt + %d completion tokens; model %s, replica %s; %.2f s]%n",
                        finished.getReason().name().substring("FINISH_REASON_".length()).toLowerCase(),
                        finished.getUsage().getPromptTokens(), finished.getUsage().getCompletionTokens(),
                        finished.getModel(), finished.getReplica(), (System.nanoTime() - t0) / 1e9);
            }
            return 0;
        } catch (StatusRuntimeException e) {
            out.println();
            err.println("shardlight chat: " + e.getStatus().getCode() + ": " + e.getStatus().getDescription());
            return 1;
        } finally {
            channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
    }

    private static String idsText(List<Integer> ids) {
        StringBuilder sb = new StringBuilder();
        for (int id : ids) {
            sb.append(id).append(' ');
        }
        return sb.toString();
    }
}
