package dev.onionrelay.fleet;

import java.util.List;

/** The live members of this instance's fleet, this instance among them. */
public interface FleetMembers {

    /** This instance's name. */
    String self();

    /** The live members, by name; this instance is always one of them. */
    List<Member> live();

    /**
     * Members that stopped renewing their lease less than one more lease ago: not live, not yet gone. They may still
     * hold tunnels (a paused process), so nothing about them is answered as if they had left.
     */
    default List<Member> suspect() {
        return List.of();
    }

    /** The live members other than this instance. */
    default List<Member> others() {
        return live().stream().filter(member -> !member.name().equals(self())).toList();
    }
}
