using BenchmarkDotNet.Running;

BenchmarkSwitcher.FromAssembly(typeof(Tcpq.Micro.HotPathBenchmarks).Assembly).Run(args);
