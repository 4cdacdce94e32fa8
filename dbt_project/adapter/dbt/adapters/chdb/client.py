from dbt.adapters.chdb.credentials import ChdbCredentials
from dbt.adapters.chdb.engine import EmbeddedClient, EngineBusyError
from dbt.adapters.clickhouse.httpclient import ChHttpClient
from dbt.adapters.exceptions import FailedToConnectError


class ChdbClient(ChHttpClient):
    """dbt-clickhouse's clickhouse-connect client wrapper, on the chdb transport: the
    query, command and settings calls it makes are the same API in both."""

    def _create_client(self, credentials: ChdbCredentials):
        if not credentials.path:
            raise FailedToConnectError("The chdb target needs `path`: the engine's data directory")
        try:
            return EmbeddedClient(
                credentials.path,
                files_root=credentials.files_root,
                settings={k: v for k, v in self._conn_settings.items() if k != "session_id"},
            )
        except EngineBusyError as ex:
            raise FailedToConnectError(str(ex)) from ex

    def close(self):
        self._client.close()
