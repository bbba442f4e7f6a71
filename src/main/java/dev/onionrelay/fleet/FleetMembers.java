package dev.onionrelay.fleet;

import java.util.List;

/** The live members of this instance's fleet, this instance among them. */
public interface FleetMembers {

    /** This instance's name. */
    String self();

    /** The live members, by name; this instance is always one of them. */
    List<Member> live();

    /** The live members other than this instance. */
    default List<Member> others() {
        return live().stream().filter(member -> !member.name().equals(self())).toList();
    }
}
