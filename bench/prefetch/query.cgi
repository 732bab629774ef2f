#!/usr/bin/ruby
# The paper's query.cgi: names of every engineer, from MariaDB through the
# ruby-mysql2 binding (Debian's ruby-mysql2). Streams the rows, counts them and
# shows the first 20, then appends "pid majflt elapsed_ms rows lifetime_ms" to $PF_LOG
# (elapsed: from after the require; lifetime: from the exec, ruby's start-up included).
require 'mysql2'

t0 = Process.clock_gettime(Process::CLOCK_MONOTONIC)
QUERY = "SELECT e.first_name, e.last_name, t.title, t.from_date FROM employees e " \
        "JOIN titles t ON t.emp_no = e.emp_no WHERE t.title = 'Engineer'"
client = Mysql2::Client.new(socket: ENV.fetch('PF_SOCK'), username: 'bench', database: 'employees')
rows = 0
first = []
client.query(QUERY, stream: true, cache_rows: false, as: :array).each do |r|
  rows += 1
  first << r if rows <= 20
end
client.close
out = +"Content-Type: text/html\r\n\r\n<html><body><p>#{rows} engineers</p><table>\n"
first.each { |r| out << "<tr><td>#{r[0]} #{r[1]}</td><td>#{r[2]}</td><td>#{r[3]}</td></tr>\n" }
out << "</table></body></html>\n"
$stdout.write(out)
$stdout.flush
stat = File.read('/proc/self/stat').split(')').last.split
majflt = stat[9].to_i
ms = ((Process.clock_gettime(Process::CLOCK_MONOTONIC) - t0) * 1000).round
# lifetime: from exec (starttime, in 1/100 s since boot) to now, ruby's start-up included
life = ((File.read('/proc/uptime').split[0].to_f - stat[19].to_i / 100.0) * 1000).round
File.open(ENV.fetch('PF_LOG'), 'a') { |f| f.puts "#{Process.pid} #{majflt} #{ms} #{rows} #{life}" } if ENV['PF_LOG']
