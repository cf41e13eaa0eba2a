module example.com/upstreamjwt

go 1.19
