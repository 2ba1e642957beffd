using BenchmarkDotNet.Running;
using ProxTunnel.Benchmarks.Load;

// `load [--seconds N] [--connections N]` runs the end-to-end harness; `idle-client` is the child process it starts to
// hold idle connections; `issuance-cpu` times cache misses on the thread CPU clock; `serve-json`/`serve-yarp` are the reference apps of the gateway scenarios; anything else goes to BenchmarkDotNet.
if (args.Length > 0 && args[0] == "load")
{
    return await LoadHarness.RunAsync(args[1..]);
}

if (args.Length > 0 && args[0] == IdleClient.Command)
{
    return await IdleClient.RunAsync(args[1..]);
}

if (args.Length > 0 && args[0] == IssuanceCpu.Command)
{
    return IssuanceCpu.Run(args[1..]);
}

if (args.Length > 0 && args[0] is ChildApps.Json or ChildApps.Yarp)
{
    return await ChildApps.RunAsync(args[0], args[1..]);
}

BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
return 0;
