namespace ProxTunnel.Gateway;

/// <summary>Entry point of the <c>proxtunnel</c> executable.</summary>
internal static class Program
{
    public static Task<int> Main(string[] args) => GatewayCommandLine.RunAsync(args);
}
