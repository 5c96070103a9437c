// The Node target: a service that stays alive doing nothing (argv[2] is the benchmark's marker).
setInterval(() => {}, 1e9);
