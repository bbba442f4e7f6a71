package dev.onionrelay.fleet;

import java.util.List;

/**
 * A call that only another member can answer (it holds the tunnel, or may) got no answer from it in time: the API
 * answers 504 naming the member.
 */
public final class MemberUnreachableException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    private final List<String> members;

    public MemberUnreachableException(String message, List<String> members) {
        super(message);
        this.members = List.copyOf(members);
    }

    /** The members that did not answer. */
    public List<String> members() {
        return members;
    }
}
