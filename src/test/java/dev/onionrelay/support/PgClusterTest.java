package dev.onionrelay.support;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import org.junit.jupiter.api.Test;

/** The throwaway server the fleet tests stand on: real password login, data kept across a stop and a start. */
@Scenario
class PgClusterTest {

    @Test
    void aClusterKeepsItsDataAcrossAnOutageAndRefusesAWrongPassword() throws Exception {
        try (PgCluster cluster = PgCluster.create()) {
            try (Connection connection = connect(cluster);
                    Statement statement = connection.createStatement()) {
                statement.execute("CREATE TABLE t (v text)");
                statement.execute("INSERT INTO t VALUES ('kept')");
            }
            assertThatThrownBy(() -> DriverManager.getConnection(cluster.jdbcUrl(), PgCluster.USER, "wrong"))
                    .isInstanceOf(SQLException.class)
                    .hasMessageContaining("password authentication failed");

            cluster.stop();
            assertThatThrownBy(() -> connect(cluster)).isInstanceOf(SQLException.class);
            cluster.start();

            try (Connection connection = connect(cluster);
                    Statement statement = connection.createStatement();
                    ResultSet rows = statement.executeQuery("SELECT v FROM t")) {
                assertThat(rows.next()).isTrue();
                assertThat(rows.getString(1)).isEqualTo("kept");
            }
        }
    }

    private static Connection connect(PgCluster cluster) throws SQLException {
        return DriverManager.getConnection(cluster.jdbcUrl(), PgCluster.USER, PgCluster.PASSWORD);
    }
}
