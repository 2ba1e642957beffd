using BenchmarkDotNet.Running;
using ProxTunnel.Benchmarks;
using ProxTunnel.Benchmarks.Http2;
using ProxTunnel.Benchmarks.Load;

// `load [--seconds N] [--connections N]` runs the end-to-end harness; `load-h2` only its HTTP/2 scenario; `browser-h2`
// times Chromium page loads over HTTP/2 and HTTP/1.1 tunnels; `idle-client` is the child process the harness starts to
// hold idle connections, `new-host-client` the one that times new hosts from a CPU of its own; `issuance-cpu` times
// cache misses on the thread CPU clock; `serve-json`/`serve-yarp` are the reference apps of the gateway scenarios;
// `ab` compares two builds of the micro-benchmarks in one process (see PairedComparison); anything else goes to
// BenchmarkDotNet.
if (args.Length > 0 && args[0] == "load")
{
    return await LoadHarness.RunAsync(args[1..]);
}

if (args.Length > 0 && args[0] == "load-h2")
{
    return await Http2Load.RunStandaloneAsync(args[1..]);
}

if (args.Length > 0 && args[0] == BrowserPageLoad.Command)
{
    return await BrowserPageLoad.RunAsync(args[1..]);
}

if (args.Length > 0 && args[0] == IdleClient.Command)
{
    return await IdleClient.RunAsync(args[1..]);
}

if (args.Length > 0 && args[0] == IssuanceCpu.Command)
{
    return IssuanceCpu.Run(args[1..]);
}

if (args.Length > 0 && args[0] == PairedComparison.Command)
{
    return PairedComparison.Run(args[1..]);
}

if (args.Length > 0 && args[0] == NewHostScenarios.ClientCommand)
{
    return await NewHostScenarios.RunClientAsync(args[1..]);
}

if (args.Length > 0 && args[0] is ChildApps.Json or ChildApps.Yarp)
{
    return await ChildApps.RunAsync(args[0], args[1..]);
}

BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
return 0;
