using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Reflection.Emit;
using System.Runtime.Loader;
using BenchmarkDotNet.Attributes;

namespace ProxTunnel.Benchmarks;

/// <summary>
/// <c>ab --a DIR --b DIR --type NAME --methods M1,M2 [--param NAME=VALUE]... [--rounds N]</c>: compares two builds of
/// this benchmark assembly (their <c>bin/Release/net10.0</c> directories, e.g. a worktree of the commit before and this
/// one) in one process, each loaded in its own load context, running the same benchmark methods in alternating slices of
/// about 10 ms (A then B, B then A). This machine swings between speed states from one process to the next and within
/// one; separate BenchmarkDotNet runs of one commit differ by more than a 10 % change, while here both builds see the
/// same state. It prints each build's minimum, 10th percentile and median ns per call, and the median of the paired
/// differences B − A with its quartiles: the figure to read. Where each build's code lands in memory still moves it a
/// little, so run a comparison in both orders (swap --a and --b), and give one directory as both builds for an A/A
/// check: the browser heads show up to about 10 ns there, benchmarks that walk many objects made in their set-up (the
/// 1-byte-segment head) about 7 %, so their comparisons are left to BenchmarkDotNet.
/// </summary>
internal static class PairedComparison
{
    public const string Command = "ab";
    private const double SliceNanoseconds = 10e6;

    public static int Run(string[] args)
    {
        string? a = null, b = null, type = null;
        string[] methods = [];
        var parameters = new List<(string Name, string Value)>();
        var rounds = 400;
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            switch (args[i])
            {
                case "--a": a = args[i + 1]; break;
                case "--b": b = args[i + 1]; break;
                case "--type": type = args[i + 1]; break;
                case "--methods": methods = args[i + 1].Split(','); break;
                case "--rounds": rounds = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                case "--param":
                    var pair = args[i + 1].Split('=', 2);
                    parameters.Add((pair[0], pair[1]));
                    break;
                default:
                    Console.Error.WriteLine($"unknown option {args[i]}");
                    return 2;
            }
        }

        if (a is null || b is null || type is null || methods.Length == 0)
        {
            Console.Error.WriteLine("usage: ab --a DIR --b DIR --type NAME --methods M1,M2 [--param NAME=VALUE]... [--rounds N]");
            return 2;
        }

        var runners = new[] { Load(a, type, methods, parameters), Load(b, type, methods, parameters) };
        foreach (var method in methods)
        {
            Compare(method, runners[0][method], runners[1][method], rounds, parameters);
        }

        return 0;
    }

    /// <summary>The benchmark class of the build in <paramref name="directory"/>, set up as BenchmarkDotNet would, and
    /// one call per method.</summary>
    private static Dictionary<string, Func<int, long>> Load(string directory, string typeName, string[] methods, List<(string Name, string Value)> parameters)
    {
        var path = Path.GetFullPath(Path.Combine(directory, "ProxTunnel.Benchmarks.dll"));
        var assembly = new BuildContext(path).LoadFromAssemblyPath(path);
        var type = assembly.GetTypes().Single(t => t.Name == typeName);
        var instance = Activator.CreateInstance(type)!;
        foreach (var (name, value) in parameters)
        {
            type.GetProperty(name)!.SetValue(instance, value);
        }

        type.GetMethods().SingleOrDefault(m => m.GetCustomAttributes().Any(x => x.GetType().FullName == typeof(GlobalSetupAttribute).FullName))
            ?.Invoke(instance, null);
        return methods.ToDictionary(m => m, m => Bind(type.GetMethod(m) ?? throw new ArgumentException($"no method {m} in {typeName}"), instance));
    }

    /// <summary>A loop of <c>n</c> direct calls of <paramref name="method"/>, compiled for this build alone: one shared loop
    /// calling through a delegate would let profile-guided devirtualization favour whichever build it saw first.</summary>
    private static Func<int, long> Bind(MethodInfo method, object instance)
    {
        var type = instance.GetType();
        var loop = new DynamicMethod($"{type.Name}.{method.Name}.Loop", typeof(long), [type, typeof(int)], type.Module, skipVisibility: true);
        var il = loop.GetILGenerator();
        var sum = il.DeclareLocal(typeof(long));
        var index = il.DeclareLocal(typeof(int));
        var body = il.DefineLabel();
        var check = il.DefineLabel();
        il.Emit(OpCodes.Ldc_I8, 0L);
        il.Emit(OpCodes.Stloc, sum);
        il.Emit(OpCodes.Ldc_I4_0);
        il.Emit(OpCodes.Stloc, index);
        il.Emit(OpCodes.Br, check);
        il.MarkLabel(body);
        il.Emit(OpCodes.Ldarg_0);
        il.Emit(OpCodes.Call, method);
        if (method.ReturnType == typeof(int) || method.ReturnType == typeof(long))
        {
            // Summed, so the call's work cannot be dropped.
            if (method.ReturnType == typeof(int))
            {
                il.Emit(OpCodes.Conv_I8);
            }

            il.Emit(OpCodes.Ldloc, sum);
            il.Emit(OpCodes.Add);
            il.Emit(OpCodes.Stloc, sum);
        }
        else if (method.ReturnType != typeof(void))
        {
            il.Emit(OpCodes.Pop);
        }

        il.Emit(OpCodes.Ldloc, index);
        il.Emit(OpCodes.Ldc_I4_1);
        il.Emit(OpCodes.Add);
        il.Emit(OpCodes.Stloc, index);
        il.MarkLabel(check);
        il.Emit(OpCodes.Ldloc, index);
        il.Emit(OpCodes.Ldarg_1);
        il.Emit(OpCodes.Blt, body);
        il.Emit(OpCodes.Ldloc, sum);
        il.Emit(OpCodes.Ret);
        return loop.CreateDelegate<Func<int, long>>(instance);
    }

    private static void Compare(string method, Func<int, long> a, Func<int, long> b, int rounds, List<(string Name, string Value)> parameters)
    {
        // Calls per slice: about 10 ms of A's. Then warm both to their final tier for about a second each (the tiering
        // thread installs code after a pause, hence the sleep).
        var calls = 1;
        while (calls < 1 << 24 && Slice(a, calls) * calls < SliceNanoseconds / 10)
        {
            calls *= 2;
        }

        calls = Math.Max(1, (int)(SliceNanoseconds / Slice(a, calls)));
        for (var pass = 0; pass < 2; pass++)
        {
            for (var i = 0; i < 50; i++)
            {
                Slice(a, calls);
                Slice(b, calls);
            }

            Thread.Sleep(300);
        }

        var timesA = new List<double>(rounds);
        var timesB = new List<double>(rounds);
        var differences = new List<double>(rounds);
        for (var round = 0; round < rounds; round++)
        {
            double x, y;
            if (round % 2 == 0)
            {
                x = Slice(a, calls);
                y = Slice(b, calls);
            }
            else
            {
                y = Slice(b, calls);
                x = Slice(a, calls);
            }

            timesA.Add(x);
            timesB.Add(y);
            differences.Add(y - x);
        }

        var label = parameters.Count == 0 ? method : $"{method} ({string.Join(", ", parameters.Select(p => $"{p.Name}={p.Value}"))})";
        Console.WriteLine(FormattableString.Invariant(
            $"{label}: A min {timesA.Min():F1} p10 {Percentile(timesA, 0.1):F1} median {Percentile(timesA, 0.5):F1} ns | B min {timesB.Min():F1} p10 {Percentile(timesB, 0.1):F1} median {Percentile(timesB, 0.5):F1} ns | B − A paired median {Percentile(differences, 0.5):F1} ns (quartiles {Percentile(differences, 0.25):F1}, {Percentile(differences, 0.75):F1}), {rounds} pairs"));
    }

    /// <summary>ns per call over <paramref name="calls"/> calls.</summary>
    private static double Slice(Func<int, long> loop, int calls)
    {
        var start = Stopwatch.GetTimestamp();
        GC.KeepAlive(loop(calls));
        return Stopwatch.GetElapsedTime(start).TotalNanoseconds / calls;
    }

    private static double Percentile(List<double> values, double fraction) => Percentiles.Of([.. values.Order()], fraction);

    /// <summary>One build's assemblies; the shared framework comes from the default context, so both builds run on it.</summary>
    private sealed class BuildContext(string mainAssembly) : AssemblyLoadContext(isCollectible: false)
    {
        private readonly AssemblyDependencyResolver _resolver = new(mainAssembly);

        protected override Assembly? Load(AssemblyName assemblyName)
            => IsFramework(assemblyName.Name!) ? null : _resolver.ResolveAssemblyToPath(assemblyName) is { } path ? LoadFromAssemblyPath(path) : null;

        private static bool IsFramework(string name)
            => name.StartsWith("System.", StringComparison.Ordinal) || name.StartsWith("Microsoft.AspNetCore", StringComparison.Ordinal)
                || name.StartsWith("Microsoft.Extensions", StringComparison.Ordinal);
    }
}
