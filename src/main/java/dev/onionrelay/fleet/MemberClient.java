package dev.onionrelay.fleet;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import org.jspecify.annotations.Nullable;

/**
 * How one instance asks the other members of its fleet: the same API call, with the caller's {@code Authorization}
 * header (the member checks identity and scope as for a direct call) and {@link #FORWARDED_BY} naming this instance,
 * so that the member answers from its own state and never forwards again. A member that does not answer within the
 * call timeout is {@link Reply.Unreachable}, never waited on longer; calls to several members run at once.
 */
public final class MemberClient {

    /** Marks a call forwarded by another member (its name): answer locally, forward nothing. */
    public static final String FORWARDED_BY = "Onion-Forwarded-By";

    private final Duration timeout;
    private final HttpClient http;

    public MemberClient(Duration timeout) {
        this.timeout = timeout;
        this.http = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(timeout)
                .followRedirects(HttpClient.Redirect.NEVER)
                .build();
    }

    public Duration timeout() {
        return timeout;
    }

    /** One call: method, path (with query), the caller's Authorization, an optional JSON body. */
    public record Call(
            String method,
            String path,
            @Nullable String authorization,
            @Nullable String jsonBody,
            String forwardedBy) {}

    /** What a member made of a call. */
    public sealed interface Reply {
        Member member();

        /** The member answered: its status, content type, body and Location. */
        record Answered(
                Member member,
                int status,
                String contentType,
                String body,
                @Nullable String location) implements Reply {}

        /** The member did not answer in time, or could not be connected. */
        record Unreachable(Member member, String reason) implements Reply {}
    }

    /** The call to every member at once; one reply per member, in the members' order, within the timeout. */
    public List<Reply> callAll(List<Member> members, Call call) {
        List<CompletableFuture<Reply>> pending =
                members.stream().map(member -> send(member, call)).toList();
        return pending.stream().map(CompletableFuture::join).toList();
    }

    public Reply call(Member member, Call call) {
        return send(member, call).join();
    }

    private CompletableFuture<Reply> send(Member member, Call call) {
        HttpRequest request;
        try {
            HttpRequest.Builder builder = HttpRequest.newBuilder(URI.create(member.url() + call.path()))
                    .timeout(timeout)
                    .header(FORWARDED_BY, call.forwardedBy());
            if (call.authorization() != null) {
                builder.header("Authorization", call.authorization());
            }
            if (call.jsonBody() != null) {
                builder.header("Content-Type", "application/json")
                        .method(call.method(), HttpRequest.BodyPublishers.ofString(call.jsonBody()));
            } else {
                builder.method(call.method(), HttpRequest.BodyPublishers.noBody());
            }
            request = builder.build();
        } catch (IllegalArgumentException e) {
            return CompletableFuture.completedFuture(
                    new Reply.Unreachable(member, "its URL " + member.url() + " is not usable: " + e.getMessage()));
        }
        return http.sendAsync(request, HttpResponse.BodyHandlers.ofString())
                .<Reply>thenApply(response -> new Reply.Answered(
                        member,
                        response.statusCode(),
                        response.headers().firstValue("Content-Type").orElse(""),
                        response.body(),
                        response.headers().firstValue("Location").orElse(null)))
                // a hard bound even if a connection hangs somewhere the request timeout does not cover
                .completeOnTimeout(
                        unreachable(member), timeout.toMillis() + 500, java.util.concurrent.TimeUnit.MILLISECONDS)
                .exceptionally(failure -> new Reply.Unreachable(member, reason(failure)));
    }

    private Reply unreachable(Member member) {
        return new Reply.Unreachable(member, "no answer within " + timeout.toMillis() + " ms");
    }

    private String reason(Throwable failure) {
        Throwable cause =
                failure instanceof CompletionException && failure.getCause() != null ? failure.getCause() : failure;
        if (cause instanceof HttpTimeoutException) {
            return "no answer within " + timeout.toMillis() + " ms";
        }
        if (cause instanceof IOException) {
            return "cannot be reached: " + cause;
        }
        return cause.toString();
    }
}
