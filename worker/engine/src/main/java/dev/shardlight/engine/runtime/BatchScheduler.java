package dev.shardlight.engine.runtime;

import dev.shardlight.engine.model.ModelConfig;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * Continuous (iteration-level) batching over one {@link CpuForwardPass} and one {@link KvBlockPool}.
 * Every {@link #step()} forms a batch anew from the running sequences: one row for each sequence
 * that is decoding (and whose reader can take a token), then prefill chunks in the rest of the
 * step's token budget; newcomers join at the next step, finished or cancelled sequences leave at
 * once and give their blocks back. All rows go through each weight matrix together.
 *
 * <p>Policies, stated:
 * <ul>
 *   <li>Admission: a waiting sequence starts when fewer than {@code maxRunning} run and the pool
 *   (free blocks plus blocks only unused prefix-cache entries hold) has what its known tokens need
 *   plus one block per layer to grow; waiting sequences are taken in fair order (below) and the
 *   first that does not fit blocks those after it, so large requests are not starved.</li>
 *   <li>Fair share: strict priority classes (higher first), then tenants by weighted fair queuing:
 *   each tenant's virtual time advances by the rows it was given divided by its weight, and the
 *   tenant furthest behind goes first (a tenant that gets new work after having none starts at
 *   the system's virtual time: idleness is not banked, and service it had while nobody else
 *   asked is not held against it). This orders admission, decode rows and prefill budget; a
 *   tenant at its share of the slots does not block another tenant's admission.</li>
 *   <li>Prefill: within a tenant, shorter remaining prompts first, so a short prompt is not stuck
 *   behind a long one; a long prompt takes the budget left, chunk by chunk.</li>
 *   <li>Long prefill cap (as vLLM's {@code long_prefill_token_threshold}): a chunk that does not
 *   finish its prompt takes at most {@code longPrefillChunk} rows in a step that has decode rows
 *   or a prompt that finishes, since those sequences wait for the whole step; alone (or beside
 *   other unfinished prompts only) it takes the full budget. Measured on Gemma 3 270M Q8_0, 2
 *   threads, 64-token steps, 16 streams decoding beside a 4,000-token prompt ({@code bench-batch
 *   --parts ttft --long-prefill-chunk 0,16,8}), against the same streams without it: uncapped
 *   (~48 rows) the streams' median inter-token time is 2.06x, with 16 rows 1.51x, with 8 rows
 *   1.36x; the long prompt's own TTFT grows 1.48x (16) or 2.07x (8) over uncapped. 16 is the
 *   default as the middle of that trade. A smaller budget for the whole step would also split
 *   short prompts that now finish in one step, so the cap is on the unfinished chunk only.
 *   Decode rows are never held back for prefill.</li>
 *   <li>Slot share: when every slot is taken, a waiting sequence of a higher priority class, or
 *   of a tenant below its weighted share of the slots while another tenant is above its share,
 *   takes the slot of that other tenant's most recently admitted sequence (preempted as below).</li>
 *   <li>Preemption: when a step needs a block and the pool (after evicting unused cached prefixes)
 *   has none, the running sequence of the lowest priority that was admitted last and is not in
 *   this step is preempted by recompute: its blocks are freed and it waits again at the front;
 *   when it returns it prefills its prompt and the tokens it already sent (often from the prefix
 *   cache) and continues exactly where it stopped. Nothing is failed for lack of memory unless a
 *   single sequence cannot fit in the whole pool, which admission refuses up front.</li>
 *   <li>Prefix cache: every full block of a sequence (prompt and output) is cached under its
 *   token-chain key in the tenant's partition (or a shared one when configured); a new sequence
 *   adopts the longest cached chain of its prompt and computes only the rest (at least its last
 *   token, whose logits it needs).</li>
 * </ul>
 * Single-threaded: the replica's engine thread calls {@link #submit} and {@link #step}; only
 * {@link #stats()} may be read from other threads.
 */
public final class BatchScheduler {

    /**
     * @param kvPoolBytes        KV memory of the replica
     * @param blockSize          positions per KV block (power of two)
     * @param maxRunning         sequences admitted at once (batch slots)
     * @param prefixCaching      reuse cached prompt blocks
     * @param sharedPrefixCache  one partition for all tenants (timing side channels across tenants)
     * @param longPrefillChunk   most rows a prefill chunk that does not finish its prompt takes in a
     *                           step shared with decode rows or with a prompt that finishes; 0 (or
     *                           at least the step's capacity) means no cap
     */
    public record Options(long kvPoolBytes, int blockSize, int maxRunning, boolean prefixCaching,
                          boolean sharedPrefixCache, int longPrefillChunk) {
        /** Chosen with {@code bench-batch --parts ttft --long-prefill-chunk 0,8,16,32}: see the class comment. */
        public static final int DEFAULT_LONG_PREFILL_CHUNK = 16;

        public Options {
            if (longPrefillChunk < 0) {
                throw new IllegalArgumentException("long prefill chunk = " + longPrefillChunk + " must be >= 0 (0: no cap)");
            }
        }

        public Options(long kvPoolBytes, int blockSize, int maxRunning, boolean prefixCaching,
                       boolean sharedPrefixCache) {
            this(kvPoolBytes, blockSize, maxRunning, prefixCaching, sharedPrefixCache, DEFAULT_LONG_PREFILL_CHUNK);
        }

        public static Options defaults(long kvPoolBytes) {
            return new Options(kvPoolBytes, KvBlockPool.DEFAULT_BLOCK_SIZE, 32, true, false);
        }

        public Options withLongPrefillChunk(int rows) {
            return new Options(kvPoolBytes, blockSize, maxRunning, prefixCaching, sharedPrefixCache, rows);
        }
    }

    /**
     * A sequence to run. {@code priority}: higher runs first; {@code weight}: the tenant's fair
     * share weight (> 0); {@code logprobs} &lt; 0 asks for none.
     */
    public record Request(String id, String tenant, int priority, double weight, int[] prompt, int maxTokens,
                          SamplingParams sampling, int[] stopTokens, int logprobs) {
    }

    /** Where a sequence's tokens and end go; called on the engine thread. */
    public interface Sink {
        /** Whether the reader can take a token now (credit); a sequence that cannot waits out the step. */
        boolean ready();

        /** Polled every step, waiting or running; true ends the sequence as cancelled. */
        boolean cancelled();

        void token(int token, TokenLogprobs logprobs);

        void finished(Result result);
    }

    public enum Outcome { STOP, LENGTH, CANCELLED, ERROR }

    /**
     * @param cachedTokens prompt tokens taken from the prefix cache when the sequence was first admitted
     * @param queueNanos   time from submit to first admission (0 if never admitted)
     */
    public record Result(Outcome outcome, int promptTokens, int cachedTokens, int completionTokens, long queueNanos,
                         String message) {
    }

    /** A consistent snapshot for metrics. */
    public record Stats(int running, int waiting, int kvBlocksTotal, int kvBlocksFree, int kvBlocksCached,
                        long kvBytesPerBlock, long prefixQueriedTokens, long prefixHitTokens, long preemptions,
                        long steps, long stepRows, int lastBatchSize, int lastStepRows) {
        public int kvBlocksUsed() {
            return kvBlocksTotal - kvBlocksFree;
        }

        public static final Stats EMPTY = new Stats(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    }

    private final class Seq {
        final Request req;
        final Sink sink;
        final int[] tokens;
        final long submitted = System.nanoTime();
        final long arrival;
        int known;
        int generated;
        Sampler sampler;
        float[] raw;
        PagedKvCache cache;
        long admittedOrder;
        int cachedTokens = -1;
        long queueNanos;
        /** Chain keys of this sequence's full blocks [0, keyed). */
        long[] keys;
        int keyed;

        Seq(Request req, Sink sink, long arrival) {
            this.req = req;
            this.sink = sink;
            this.arrival = arrival;
            this.tokens = new int[req.prompt().length + req.maxTokens()];
            System.arraycopy(req.prompt(), 0, tokens, 0, req.prompt().length);
            this.known = req.prompt().length;
        }

        int remaining() {
            return known - cache.length();
        }

        Share share() {
            return shares.get(req.tenant());
        }
    }

    private static final class Share {
        double vtime;
        int active;
    }

    private final CpuForwardPass forward;
    private final ModelConfig c;
    private final Options options;
    private final KvBlockPool pool;
    private final PrefixCache prefixes;
    private final List<Seq> waiting = new ArrayList<>();
    private final List<Seq> running = new ArrayList<>();
    private final Map<String, Share> shares = new HashMap<>();
    private final CpuForwardPass.Slice[] slices;
    private final Seq[] planned;
    private final float[] logits;
    private long arrivals;
    private double lastSystemVtime;
    private long admissions;
    private long preemptions;
    private long steps;
    private long stepRows;
    private volatile Stats stats = Stats.EMPTY;

    public BatchScheduler(CpuForwardPass forward, Options options) {
        this.forward = forward;
        this.c = forward.config();
        this.options = options;
        this.pool = forward.newPool(options.kvPoolBytes(), options.blockSize());
        this.prefixes = new PrefixCache(pool);
        int cap = forward.stepCapacity();
        this.slices = new CpuForwardPass.Slice[cap];
        this.planned = new Seq[cap];
        this.logits = new float[cap * c.vocab()];
        publish(0, 0);
    }

    /**
     * Why a request of this size can never run here (context or KV pool), or null. Pure: safe from
     * any thread.
     */
    public String refusal(int promptTokens, int maxTokens) {
        long total = (long) promptTokens + maxTokens;
        if (total > c.contextLength()) {
            return "prompt (" + promptTokens + " tokens) + max_tokens (" + maxTokens + ") = " + total
                    + " exceeds the model's context of " + c.contextLength();
        }
        int need = PagedKvCache.blocksFor(c, pool.blockSize(), (int) total, forward.rewindSlack());
        if (need > pool.totalBlocks()) {
            return "prompt (" + promptTokens + " tokens) + max_tokens (" + maxTokens + ") needs " + need
                    + " KV blocks; this replica's KV pool has " + pool.totalBlocks() + " ("
                    + (pool.totalBlocks() * pool.bytesPerBlock() >> 20) + " MiB)";
        }
        return null;
    }

    /** Queues a sequence; it is admitted at the next step with room. */
    public void submit(Request req, Sink sink) {
        if (req.prompt().length == 0) {
            throw new IllegalArgumentException("prompt is empty; at least one token (e.g. BOS) is needed");
        }
        if (req.maxTokens() < 1) {
            throw new IllegalArgumentException("max_tokens = " + req.maxTokens() + " must be >= 1");
        }
        if (!(req.weight() > 0)) {
            throw new IllegalArgumentException("fair-share weight " + req.weight() + " must be > 0");
        }
        String refusal = refusal(req.prompt().length, req.maxTokens());
        if (refusal != null) {
            throw new IllegalArgumentException(refusal);
        }
        for (int t : req.prompt()) {
            if (t < 0 || t >= c.vocab()) {
                throw new IllegalArgumentException("token id " + t + " is outside the vocabulary 0.." + (c.vocab() - 1));
            }
        }
        Seq s = new Seq(req, sink, arrivals++);
        activate(s);
        waiting.add(s);
        publish(0, 0);
    }

    /** True while any sequence is waiting or running. */
    public boolean busy() {
        return !waiting.isEmpty() || !running.isEmpty();
    }

    public Stats stats() {
        return stats;
    }

    /**
     * One iteration: drop cancelled sequences, admit, plan a batch, run it, hand out tokens.
     * Returns false when nothing could run (idle, or every running sequence waits for its reader).
     */
    public boolean step() {
        reapCancelled();
        admit();
        int n = plan();
        publish(0, 0); // admissions are visible while the step runs
        if (n == 0) {
            publish(0, 0);
            return false;
        }
        int rows = 0;
        for (int i = 0; i < n; i++) {
            rows += slices[i].count();
        }
        try {
            forward.forwardBatch(slices, n, logits);
        } catch (RuntimeException | Error e) {
            for (int i = 0; i < n; i++) {
                finish(planned[i], Outcome.ERROR, "engine failed: " + (e.getMessage() == null ? e.toString() : e.getMessage()));
            }
            clearPlan(n);
            publish(n, rows);
            return true;
        }
        int logitRow = 0;
        for (int i = 0; i < n; i++) {
            Seq s = planned[i];
            CpuForwardPass.Slice sl = slices[i];
            Share share = s.share();
            share.vtime += sl.count() / s.req.weight();
            cacheFullBlocks(s);
            if (sl.logitRows() > 0) {
                emit(s, logitRow++ * c.vocab());
            }
        }
        clearPlan(n);
        systemVtime();
        steps++;
        stepRows += rows;
        publish(n, rows);
        return true;
    }

    private void clearPlan(int n) {
        for (int i = 0; i < n; i++) {
            slices[i] = null;
            planned[i] = null;
        }
    }

    // ---- lifecycle ---------------------------------------------------------------------------

    /**
     * A tenant with new work starts at the system's virtual time (no credit banked while idle, and
     * no debt kept from service it got while nobody else wanted any).
     */
    private void activate(Seq s) {
        Share share = shares.computeIfAbsent(s.req.tenant(), t -> new Share());
        if (share.active == 0) {
            share.vtime = systemVtime();
        }
        share.active++;
    }

    /** The least virtual time among tenants with work, or where it last was when none had any. */
    private double systemVtime() {
        double min = Double.MAX_VALUE;
        for (Share other : shares.values()) {
            if (other.active > 0) {
                min = Math.min(min, other.vtime);
            }
        }
        if (min != Double.MAX_VALUE) {
            lastSystemVtime = Math.max(lastSystemVtime, min);
        }
        return lastSystemVtime;
    }

    private void deactivate(Seq s) {
        Share share = shares.get(s.req.tenant());
        if (--share.active == 0 && shares.size() > 1024) {
            shares.remove(s.req.tenant());
        }
    }

    private void reapCancelled() {
        for (Iterator<Seq> it = waiting.iterator(); it.hasNext(); ) {
            Seq s = it.next();
            if (s.sink.cancelled()) {
                it.remove();
                end(s, Outcome.CANCELLED, "");
            }
        }
        for (Iterator<Seq> it = running.iterator(); it.hasNext(); ) {
            Seq s = it.next();
            if (s.sink.cancelled()) {
                it.remove();
                end(s, Outcome.CANCELLED, "");
            }
        }
    }

    private void finish(Seq s, Outcome outcome, String message) {
        running.remove(s);
        waiting.remove(s);
        end(s, outcome, message);
    }

    private void end(Seq s, Outcome outcome, String message) {
        if (s.cache != null) {
            s.cache.free(prefixes);
            s.cache = null;
        }
        deactivate(s);
        s.sampler = null;
        s.sink.finished(new Result(outcome, s.req.prompt().length, Math.max(0, s.cachedTokens), s.generated,
                s.queueNanos, message));
    }

    private final Comparator<Seq> fairOrder = Comparator
            .comparingInt((Seq s) -> -s.req.priority())
            .thenComparingDouble(s -> s.share().vtime)
            .thenComparingLong(s -> s.arrival);

    private void admit() {
        List<Seq> candidates = new ArrayList<>(waiting);
        candidates.sort(fairOrder);
        for (Seq s : candidates) {
            if (running.size() >= options.maxRunning() && !makeRoomFor(s)) {
                continue; // its tenant has its share of the slots; another tenant's request may not
            }
            long seed = PrefixCache.seed(options.sharedPrefixCache() ? null : s.req.tenant());
            List<PrefixCache.Entry> hits = options.prefixCaching()
                    ? prefixes.match(seed, s.tokens, s.known - 1) : List.of();
            int hitTokens = hits.size() * pool.blockSize();
            int need = PagedKvCache.blocksFor(c, pool.blockSize(), s.known + 1, forward.rewindSlack())
                    - PagedKvCache.blocksFor(c, pool.blockSize(), hitTokens, forward.rewindSlack());
            if (need > pool.availableBlocks()) {
                for (PrefixCache.Entry e : hits) {
                    prefixes.unuse(e);
                }
                return; // head of line: a large request is not overtaken forever by small ones
            }
            waiting.remove(s);
            PagedKvCache cache = forward.newCache(pool, s.tokens.length);
            cache.adopt(hits); // the cache keeps the uses match() took, until it is freed
            s.cache = cache;
            s.keys = new long[s.tokens.length / pool.blockSize() + 1];
            s.keyed = 0;
            for (PrefixCache.Entry e : hits) {
                s.keys[s.keyed++] = e.key;
            }
            if (s.cachedTokens < 0) {
                s.cachedTokens = hitTokens;
                s.queueNanos = System.nanoTime() - s.submitted;
                s.sampler = new Sampler(s.req.sampling(), c.vocab());
                s.sampler.observePrompt(s.req.prompt(), 0, s.req.prompt().length);
                s.raw = s.req.logprobs() >= 0 ? new float[c.vocab()] : null;
            }
            s.admittedOrder = admissions++;
            running.add(s);
        }
    }

    /**
     * Every slot is taken: frees one for {@code s} (preempting by recompute) when it outranks a
     * running sequence by priority class, or when its tenant holds fewer slots than its weighted
     * share of {@code maxRunning} among the tenants with work in its class while another tenant
     * holds more than its share. A flooding tenant thus keeps at most its share once others ask.
     */
    private boolean makeRoomFor(Seq s) {
        Seq victim = null;
        for (Seq r : running) {
            if (r.req.priority() < s.req.priority() && (victim == null || ranksBelow(r, victim))) {
                victim = r;
            }
        }
        if (victim == null) {
            Map<String, Integer> slots = new HashMap<>();
            Map<String, Double> weights = new HashMap<>();
            for (Seq r : running) {
                if (r.req.priority() == s.req.priority()) {
                    slots.merge(r.req.tenant(), 1, Integer::sum);
                    weights.put(r.req.tenant(), r.req.weight());
                }
            }
            for (Seq w : waiting) {
                if (w.req.priority() == s.req.priority()) {
                    weights.putIfAbsent(w.req.tenant(), w.req.weight());
                }
            }
            double total = weights.values().stream().mapToDouble(Double::doubleValue).sum();
            int max = options.maxRunning();
            String mine = s.req.tenant();
            if (slots.getOrDefault(mine, 0) + 1 > max * weights.get(mine) / total + 1e-9) {
                return false; // its tenant already has its share: wait for a slot
            }
            String over = null;
            double excess = 0;
            for (Map.Entry<String, Integer> e : slots.entrySet()) {
                double x = e.getValue() - max * weights.get(e.getKey()) / total;
                if (x > excess + 1e-9) {
                    excess = x;
                    over = e.getKey();
                }
            }
            if (over == null) {
                return false;
            }
            for (Seq r : running) {
                if (r.req.tenant().equals(over) && r.req.priority() == s.req.priority()
                        && (victim == null || r.admittedOrder > victim.admittedOrder)) {
                    victim = r;
                }
            }
        }
        if (victim == null) {
            return false;
        }
        preempt(victim);
        return true;
    }

    /** Fills slices/planned for this step; returns how many. */
    private int plan() {
        int cap = forward.stepCapacity();
        int rows = 0;
        int n = 0;
        running.sort(fairOrder);
        // decode rows first: one token each (iterating a copy: reserving may preempt)
        for (Seq s : List.copyOf(running)) {
            if (rows == cap) {
                break;
            }
            if (s.cache != null && s.remaining() == 1 && s.sink.ready() && reserveOrPreempt(s, 1, n)) {
                slices[n] = new CpuForwardPass.Slice(s.cache, s.tokens, s.cache.length(), 1, 1);
                planned[n++] = s;
                rows++;
            }
        }
        // then prefill: within the fair order, shorter remaining prompts first
        List<Seq> prefill = new ArrayList<>();
        for (Seq s : running) {
            if (s.cache != null && s.remaining() > 1) {
                prefill.add(s);
            }
        }
        prefill.sort(Comparator.comparingInt((Seq s) -> -s.req.priority())
                .thenComparingDouble(s -> s.share().vtime)
                .thenComparingInt(Seq::remaining));
        int decodeRows = rows;
        int longChunk = options.longPrefillChunk() == 0 ? cap : Math.min(cap, options.longPrefillChunk());
        for (Seq s : prefill) {
            if (rows == cap) {
                break;
            }
            if (s.cache == null) {
                continue; // preempted for an earlier one this step
            }
            int take = Math.min(s.remaining(), cap - rows);
            if (take < s.remaining() && take > longChunk && sharesStep(s, decodeRows, prefill, cap)) {
                take = longChunk; // a partial chunk is not worth making everyone's step longer
            }
            boolean completes = take == s.remaining();
            if (completes && !s.sink.ready()) {
                take--; // its first token would have nowhere to go yet
            }
            if (take > 0 && reserveOrPreempt(s, take, n)) {
                slices[n] = new CpuForwardPass.Slice(s.cache, s.tokens, s.cache.length(), take,
                        take == s.remaining() ? 1 : 0);
                planned[n++] = s;
                rows += take;
            }
        }
        return n;
    }

    /**
     * Whether a partial chunk of {@code s} would share its step with rows that wait on it: decode
     * rows, or another prompt that can finish in one step.
     */
    private static boolean sharesStep(Seq s, int decodeRows, List<Seq> prefill, int cap) {
        if (decodeRows > 0) {
            return true;
        }
        for (Seq p : prefill) {
            if (p != s && p.cache != null && p.remaining() <= cap) {
                return true;
            }
        }
        return false;
    }

    /**
     * Reserves blocks for {@code count} more positions of {@code s}, preempting sequences outside
     * the first {@code plannedCount} planned ones while the pool is short; false if {@code s}
     * itself had to go (or cannot fit this step).
     */
    private boolean reserveOrPreempt(Seq s, int count, int plannedCount) {
        while (!s.cache.reserve(s.cache.length() + count)) {
            Seq victim = null;
            for (Seq r : running) {
                if (r != s && r.cache != null && !isPlanned(r, plannedCount)
                        && (victim == null || ranksBelow(r, victim))) {
                    victim = r;
                }
            }
            if (victim != null && ranksBelow(victim, s)) {
                preempt(victim);
            } else if (victim != null) {
                preempt(s); // s is the lowest-ranked sequence holding blocks
                return false;
            } else if (plannedCount > 0) {
                return false; // only planned sequences hold blocks: wait for the next step
            } else {
                finish(s, Outcome.ERROR, "KV pool exhausted: its " + pool.totalBlocks()
                        + " blocks cannot hold this sequence");
                return false;
            }
        }
        return true;
    }

    /** Preemption order: lower priority first, then the most recently admitted. */
    private static boolean ranksBelow(Seq a, Seq b) {
        return a.req.priority() < b.req.priority()
                || (a.req.priority() == b.req.priority() && a.admittedOrder > b.admittedOrder);
    }

    private boolean isPlanned(Seq r, int plannedCount) {
        for (int i = 0; i < plannedCount; i++) {
            if (planned[i] == r) {
                return true;
            }
        }
        return false;
    }

    private void preempt(Seq s) {
        s.cache.free(prefixes);
        s.cache = null;
        running.remove(s);
        waiting.add(s);
        preemptions++;
    }

    /** Registers the blocks this step completed in the prefix cache. */
    private void cacheFullBlocks(Seq s) {
        if (!options.prefixCaching() || s.cache == null) {
            return;
        }
        int b = pool.blockSize();
        int full = s.cache.length() / b;
        long parent = s.keyed == 0 ? PrefixCache.seed(options.sharedPrefixCache() ? null : s.req.tenant())
                : s.keys[s.keyed - 1];
        while (s.keyed < full) {
            int i = s.keyed;
            PrefixCache.Entry e = prefixes.insert(parent, s.tokens, i * b, s.cache.blocksAt(i));
            long key = PrefixCache.key(parent, s.tokens, i * b, b);
            if (e != null) {
                s.cache.share(e);
            }
            s.keys[s.keyed++] = key;
            parent = key;
        }
    }

    /** Samples the next token from the sequence's logits row and sends it. */
    private void emit(Seq s, int at) {
        if (s.raw != null) {
            System.arraycopy(logits, at, s.raw, 0, c.vocab());
        }
        int next = s.sampler.sample(logits, at);
        s.sampler.accept(next);
        s.tokens[s.known++] = next;
        s.generated++;
        s.sink.token(next, s.raw == null ? null : TokenLogprobs.of(s.raw, 0, c.vocab(), next, s.req.logprobs()));
        if (c.isStop(next) || Generator.contains(s.req.stopTokens(), next)) {
            finish(s, Outcome.STOP, "");
        } else if (s.generated == s.req.maxTokens()) {
            finish(s, Outcome.LENGTH, "");
        }
    }

    private void publish(int batch, int rows) {
        stats = new Stats(running.size(), waiting.size(), pool.totalBlocks(), pool.availableBlocks(),
                prefixes.evictableBlocks(), pool.bytesPerBlock(), prefixes.queriedTokens(), prefixes.hitTokens(),
                preemptions, steps, stepRows, batch, rows);
    }
}
