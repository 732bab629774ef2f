#!/usr/bin/env python3
"""Generate an employees-like database in the shape of MySQL's sample
"employees" database (which cannot be downloaded here): the two tables the
query reads, with the sample's row counts and title mix.

usage: gendb.py OUTDIR [SCALE [PAD]]
Writes OUTDIR/schema.sql, OUTDIR/employees.tsv, OUTDIR/titles.tsv and
OUTDIR/load.sql (LOAD DATA of both files). SCALE (default 1.0) multiplies the
row counts (1.0: 300,024 employees, ~443k titles). PAD (default 0) adds a
column "notes" of PAD bytes to every employee: the sample's rows are small
(~34 MiB for both tables), and a larger row makes the query's working set in
the buffer pool as large as the benchmark needs. Deterministic (fixed seed).
"""
import datetime, os, random, sys

out = sys.argv[1]
scale = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
pad = int(sys.argv[3]) if len(sys.argv) > 3 else 0
rnd = random.Random(20161001)
letters = "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
base = "".join(rnd.choice(letters) for _ in range(65536 + pad))
os.makedirs(out, exist_ok=True)

FIRST = ("Georgi Bezalel Parto Chirstian Kyoichi Anneke Tzvetan Saniya Sumant Duangkaew Mary "
         "Patricio Eberhardt Berni Guoxiang Kazuhito Cristinel Kazuhide Lillian Mayuko Ramzi "
         "Shahaf Bojan Suzette Prasadram Yongqiao Divier Domenick Otmar Elvis Karsten Jeong "
         "Arif Bader Alain Adamantios Pradeep Huan Alejandro Weiyi Uri Magy Yishay Mingsen "
         "Moss Lucien Zvonko Florian Basil Yinghua Hidefumi Heping Sanjiv Mayumi Georgy "
         "Brendon Ebbe Berhard Breannda Tse Anoosh Gino Udi Satosi Kwee Claudi Charlene "
         "Margareta Reuven Hisao Hironoby Shir Mokhtar Gao Erez Mona Danel Kshitij Premal "
         "Zhongwei Parviz Vishv Tuval Kenroku Somnath Xinglin Jungsoon Sudharsan Kendra "
         "Amabile Valdiodio Sailaja Arumugam Hilari Jayson Remzi Sreekrishna Valter").split()
LAST = ("Facello Simmel Bamford Koblick Maliniak Preusig Zielinski Kalloufi Peac Piveteau "
        "Sluis Bridgland Terkki Genin Nooteboom Cappelletti Bouloucos Peha Haddadi Warwick "
        "Erde Famili Montemayor Heyers Swan Schusler Pettey Tempesti Herbst Demeyer Baek "
        "Stamatiou Pintelas Brattka Merlo Chappelet Lortz Speek Ranta Zockler Gils Kolinko "
        "Meriste Lenart Sidou Bernatsky Luders Mandell Dredge Syrotiuk Rahimi Kalefeld "
        "Rosenbaum Aingworth Dolinsky Azumi Bahr Masada Ghalwash Porenta Eugenio Showalter "
        "Pillow Pettis Rindone Gargeya Lindqvist Kachinski Spelt Awdeh Benveniste Birch "
        "Casley Rosca Hofting Zschoche Ossenbruggen Bell Mitina Leonhardt Vecchi Erva").split()
# the sample's title mix (counts over 443,308 rows)
TITLES = [("Engineer", 115003), ("Senior Engineer", 97750), ("Staff", 107391),
          ("Senior Staff", 92853), ("Technique Leader", 15159), ("Assistant Engineer", 15128),
          ("Manager", 24)]
NEXT = {"Staff": "Senior Staff", "Engineer": "Senior Engineer"}  # some promotions
n_emp = int(300024 * scale)
n_titles = int(443308 * scale)
extra = n_titles - n_emp          # employees with a second (promotion) title
day0 = datetime.date(1985, 1, 1).toordinal()
end = "9999-01-01"

def d(o):
    return datetime.date.fromordinal(o).isoformat()

weights = [c for _, c in TITLES]
names = [t for t, _ in TITLES]
n_titles_written = 0
with open(os.path.join(out, "employees.tsv"), "w") as fe, open(os.path.join(out, "titles.tsv"), "w") as ft:
    promoted = set(rnd.sample(range(n_emp), extra))
    for i in range(n_emp):
        emp = 10001 + i
        birth = datetime.date(1952, 2, 1).toordinal() + rnd.randrange(13 * 365)
        hire = day0 + rnd.randrange(14 * 365)
        k = rnd.randrange(65536)
        fe.write("%d\t%s\t%s\t%s\t%s\t%s\t%s\n" % (emp, d(birth), rnd.choice(FIRST), rnd.choice(LAST),
                                                 rnd.choice("MF"), d(hire), base[k:k + pad]))
        t = rnd.choices(names, weights)[0]
        if i in promoted and t in NEXT and rnd.random() < 0.25:
            mid = hire + rnd.randrange(1, 3000)
            ft.write("%d\t%s\t%s\t%s\n" % (emp, t, d(hire), d(mid)))
            ft.write("%d\t%s\t%s\t%s\n" % (emp, NEXT[t], d(mid), end))
            n_titles_written += 2
        elif i in promoted:
            mid = hire + rnd.randrange(1, 3000)
            ft.write("%d\t%s\t%s\t%s\n" % (emp, t, d(hire), d(mid)))
            ft.write("%d\t%s\t%s\t%s\n" % (emp, t, d(mid), end))   # same title, new period
            n_titles_written += 2
        else:
            ft.write("%d\t%s\t%s\t%s\n" % (emp, t, d(hire), end))
            n_titles_written += 1

with open(os.path.join(out, "schema.sql"), "w") as f:
    f.write("""CREATE DATABASE IF NOT EXISTS employees;
USE employees;
CREATE TABLE employees (
  emp_no INT NOT NULL, birth_date DATE NOT NULL, first_name VARCHAR(14) NOT NULL,
  last_name VARCHAR(16) NOT NULL, gender ENUM('M','F') NOT NULL, hire_date DATE NOT NULL,
  notes VARCHAR(4000) NOT NULL DEFAULT '',
  PRIMARY KEY (emp_no)) ENGINE=InnoDB;
CREATE TABLE titles (
  emp_no INT NOT NULL, title VARCHAR(50) NOT NULL, from_date DATE NOT NULL, to_date DATE,
  PRIMARY KEY (emp_no, title, from_date),
  FOREIGN KEY (emp_no) REFERENCES employees (emp_no) ON DELETE CASCADE) ENGINE=InnoDB;
""")
with open(os.path.join(out, "load.sql"), "w") as f:
    f.write("USE employees;\nSET foreign_key_checks = 0;\n")
    for t in ("employees", "titles"):
        f.write("LOAD DATA LOCAL INFILE '%s' INTO TABLE %s;\n" % (os.path.join(out, t + ".tsv"), t))
    f.write("SET foreign_key_checks = 1;\nANALYZE TABLE employees, titles;\n")
print("employees %d titles %d" % (n_emp, n_titles_written))
