package dev.onionrelay.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import dev.onionrelay.api.FleetViews.MemberAnswer;
import dev.onionrelay.fleet.FleetMembers;
import dev.onionrelay.fleet.Member;
import dev.onionrelay.fleet.MemberClient;
import dev.onionrelay.fleet.MemberClient.Reply;
import dev.onionrelay.fleet.MemberUnreachableException;
import dev.onionrelay.fleet.TunnelIds;
import dev.onionrelay.relay.RelayException;
import jakarta.servlet.http.HttpServletRequest;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.jspecify.annotations.Nullable;
import org.springframework.http.HttpHeaders;
import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.stereotype.Component;
import tools.jackson.core.JacksonException;
import tools.jackson.core.type.TypeReference;
import tools.jackson.databind.DeserializationFeature;
import tools.jackson.databind.json.JsonMapper;

/**
 * An API call answered for the whole fleet: the same call to every other live member (with the caller's
 * {@code Authorization}, marked as forwarded), their answers read for merging, or the one member that holds a tunnel
 * (named in the tunnel id, see {@link TunnelIds}) asked and its answer passed on as it is. Suspect members (lease run
 * out, maybe only paused) are not asked: merged views mark them SUSPECT and calls about their tunnels answer 504. A
 * forwarded call is answered from this instance alone and never forwarded again; with a single instance (the file
 * store) nothing is asked.
 */
@Component
public class FleetCalls {

    private final FleetMembers members;
    private final MemberClient client;
    private final TunnelIds tunnelIds;
    // Members may run a newer version with more fields: read what the merge needs, ignore the rest.
    private final JsonMapper json = JsonMapper.builder()
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .changeDefaultPropertyInclusion(include -> include.withValueInclusion(JsonInclude.Include.NON_NULL))
            .build();

    public FleetCalls(FleetMembers members, MemberClient client, TunnelIds tunnelIds) {
        this.members = members;
        this.client = client;
        this.tunnelIds = tunnelIds;
    }

    /** The id the API shows for this instance's tunnel {@code local}. */
    public String tunnelId(String local) {
        return tunnelIds.shown(local);
    }

    /** This instance's name. */
    public String self() {
        return members.self();
    }

    /** Whether another member forwarded this call: then it is answered from this instance alone. */
    public static boolean forwarded(HttpServletRequest request) {
        return request.getHeader(MemberClient.FORWARDED_BY) != null;
    }

    /** The same GET to every other live member, each answer read as {@code type}; then the suspect members. */
    public <T> List<MemberAnswer<T>> ask(HttpServletRequest request, TypeReference<T> type) {
        List<Member> others = others(request);
        List<Member> suspect = forwarded(request) ? List.of() : members.suspect();
        List<MemberAnswer<T>> answers = new ArrayList<>(others.size() + suspect.size());
        if (!others.isEmpty()) {
            for (Reply reply : client.callAll(others, call(request, "GET", null))) {
                answers.add(read(reply, type));
            }
        }
        for (Member member : suspect) {
            answers.add(new MemberAnswer.Suspect<>(member.name(), silence(member)));
        }
        return answers;
    }

    /**
     * The call about tunnel {@code tunnel} (its id as shown), which the id says {@code instance} holds, to that member
     * alone, its answer passed on as it is (404 included).
     *
     * @throws MemberUnreachableException when the member is suspect, or does not answer in time (504 naming it)
     * @throws RelayException NOT_FOUND when no member of that name is known: it left, with its tunnels
     */
    public ResponseEntity<String> toInstance(
            HttpServletRequest request, @Nullable Object body, String tunnel, String instance) {
        Optional<Member> live = members.others().stream()
                .filter(member -> member.name().equals(instance))
                .findFirst();
        if (live.isPresent()) {
            String json = body == null ? null : this.json.writeValueAsString(body);
            Reply reply = client.call(live.get(), call(request, request.getMethod(), json));
            if (reply instanceof Reply.Unreachable away) {
                throw new MemberUnreachableException(
                        "the tunnel is held by " + instance + ", which did not answer: " + away.reason(),
                        List.of(instance));
            }
            return pass((Reply.Answered) reply);
        }
        Optional<Member> suspect = members.suspect().stream()
                .filter(member -> member.name().equals(instance))
                .findFirst();
        if (suspect.isPresent()) {
            throw new MemberUnreachableException(
                    "the tunnel is held by " + instance + ", which is SUSPECT: " + silence(suspect.get()),
                    List.of(instance));
        }
        throw new RelayException(
                RelayException.Kind.NOT_FOUND,
                null,
                "no open tunnel '" + tunnel + "': its instance " + instance + " is not a member of the fleet");
    }

    private static String silence(Member member) {
        return "no heartbeat since " + member.lastSeen() + " (its lease ran out); it counts as gone after a second"
                + " lease";
    }

    /**
     * The call to the member that holds what this instance does not have (a tunnel): every other member gets it at
     * once, the one that does not answer 404 is the holder (tunnel ids are unique in the fleet) and its answer is
     * passed on. Empty when no member has it.
     *
     * @throws MemberUnreachableException when no member has it and some did not answer in time
     */
    public Optional<ResponseEntity<String>> toHolder(HttpServletRequest request, @Nullable Object body) {
        List<Member> others = others(request);
        if (others.isEmpty()) {
            return Optional.empty();
        }
        String json = body == null ? null : this.json.writeValueAsString(body);
        List<Reply> replies = client.callAll(others, call(request, request.getMethod(), json));
        List<String> unreachable = new ArrayList<>();
        List<String> names = new ArrayList<>();
        for (Reply reply : replies) {
            if (reply instanceof Reply.Answered answered && answered.status() != 404) {
                return Optional.of(pass(answered));
            }
            if (reply instanceof Reply.Unreachable away) {
                unreachable.add(away.member().name() + " (" + away.reason() + ")");
                names.add(away.member().name());
            }
        }
        if (!unreachable.isEmpty()) {
            throw new MemberUnreachableException(
                    "not on this instance, and the member that may hold it did not answer: "
                            + String.join(", ", unreachable),
                    names);
        }
        return Optional.empty();
    }

    private List<Member> others(HttpServletRequest request) {
        return forwarded(request) ? List.of() : members.others();
    }

    private MemberClient.Call call(HttpServletRequest request, String method, @Nullable String body) {
        String path = request.getRequestURI();
        if (request.getQueryString() != null) {
            path += "?" + request.getQueryString();
        }
        return new MemberClient.Call(method, path, request.getHeader(HttpHeaders.AUTHORIZATION), body, self());
    }

    private <T> MemberAnswer<T> read(Reply reply, TypeReference<T> type) {
        String name = reply.member().name();
        if (reply instanceof Reply.Unreachable away) {
            return new MemberAnswer.Unreachable<>(name, away.reason());
        }
        Reply.Answered answered = (Reply.Answered) reply;
        if (answered.status() == 404) {
            return new MemberAnswer.NotFound<>(name);
        }
        if (answered.status() != 200) {
            return new MemberAnswer.Unreachable<>(name, "answered " + answered.status());
        }
        try {
            return new MemberAnswer.Found<>(name, json.readValue(answered.body(), type));
        } catch (JacksonException e) {
            return new MemberAnswer.Unreachable<>(name, "answered what this instance cannot read");
        }
    }

    private static ResponseEntity<String> pass(Reply.Answered answered) {
        ResponseEntity.BodyBuilder response = ResponseEntity.status(answered.status());
        if (!answered.contentType().isEmpty()) {
            response.contentType(MediaType.parseMediaType(answered.contentType()));
        }
        if (answered.location() != null) {
            response.header(HttpHeaders.LOCATION, answered.location());
        }
        return response.body(answered.body());
    }
}
