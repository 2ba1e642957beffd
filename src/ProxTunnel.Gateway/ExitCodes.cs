namespace ProxTunnel.Gateway;

/// <summary>Process exit codes of the gateway and its subcommands.</summary>
internal static class ExitCodes
{
    /// <summary>Everything went as asked.</summary>
    public const int Success = 0;

    /// <summary>A run-time failure: port in use, unreadable CA, I/O error.</summary>
    public const int Failure = 1;

    /// <summary>The command line could not be parsed or named a bad value.</summary>
    public const int Usage = 2;
}
